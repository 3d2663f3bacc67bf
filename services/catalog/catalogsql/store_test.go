package catalogsql_test

import (
	"context"
	"testing"

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
				return catalogtest.MustStore(t, catalogtest.MustOpen(t, dialect), dialect)
			})
		})
	}
}

// A creation's history entry holds no copy of the movie (MovieHistory rebuilds it from the row): it was a
// third of an imported catalog's database.
func TestCreationHistoryHoldsNoCopy(t *testing.T) {
	for _, dialect := range []string{catalogsql.SQLite, catalogsql.MySQL} {
		t.Run(dialect, func(t *testing.T) {
			if dialect == catalogsql.MySQL {
				catalogtest.MustOpenMySQL(t)
			}
			db := catalogtest.MustOpen(t, dialect)
			s := catalogtest.MustStore(t, db, dialect)
			m, err := s.CreateMovie(context.Background(), "tester", catalog.MovieInput{Title: "Heat", Overview: "A heist."}, catalog.CreateAnyway)
			if err != nil {
				t.Fatal(err)
			}
			var changes string
			if err := db.QueryRow(`SELECT changes FROM movie_history WHERE movie_id = ? AND version = 1`, m.ID).Scan(&changes); err != nil {
				t.Fatal(err)
			}
			if changes != "{}" {
				t.Errorf("stored creation = %s, want {}", changes)
			}
			hs, err := s.MovieHistory(context.Background(), m.ID)
			if err != nil || len(hs) != 1 || string(hs[0].Changes["overview"].To) != `"A heist."` {
				t.Errorf("history = %+v, %v", hs, err)
			}
		})
	}
}
