package catalogsql_test

import (
	"testing"

	"marquee/pkg/events"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
)

func TestStoreContract(t *testing.T) {
	for _, dialect := range []string{catalogsql.SQLite, catalogsql.MySQL} {
		t.Run(dialect, func(t *testing.T) {
			if dialect == catalogsql.MySQL {
				catalogtest.MustOpenMySQL(t) // skips loudly when MARQUEE_TEST_MYSQL_DSN is unset
			}
			catalogtest.Run(t, func(t *testing.T) catalog.Store {
				return catalogtest.MustStore(t, catalogtest.MustOpen(t, dialect), dialect, events.DefaultStream)
			})
		})
	}
}
