package catalogsvc_test

import (
	"context"
	"testing"

	"marquee/pkg/apperr"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/catalog/catalogtest"
)

func TestUsers(t *testing.T) {
	for _, dialect := range []string{catalogsql.SQLite, catalogsql.MySQL} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			users, err := catalogsvc.OpenUsers(ctx, catalogtest.MustOpen(t, dialect), dialect) // a new database: migrated
			if err != nil {
				t.Fatal(err)
			}
			u, err := users.Add(ctx, " Ada ", "twelve-chars-ok", "admin")
			if err != nil || u.Username != "ada" || u.Role != "admin" || u.CreatedAt.IsZero() {
				t.Fatalf("Add = %+v, %v", u, err)
			}
			if _, err := users.Add(ctx, "bob", "twelve-chars-ok", "user"); err != nil {
				t.Fatal(err)
			}
			if _, err := users.Add(ctx, "ada", "twelve-chars-ok", "user"); !apperr.Is(err, apperr.Conflict) {
				t.Fatalf("Add of a taken name: %v", err)
			}
			if _, err := users.Add(ctx, "carl", "short", "owner"); len(apperr.FieldsOf(err)) != 2 {
				t.Fatalf("Add of an invalid user: %v", err)
			}
			list, err := users.List(ctx)
			if err != nil || len(list) != 2 || list[0].Username != "ada" || list[1].Role != "user" {
				t.Fatalf("List = %+v, %v", list, err)
			}
			if err := users.Remove(ctx, "ada"); !apperr.Is(err, apperr.Conflict) {
				t.Fatalf("Remove of the last admin: %v", err)
			}
			if err := users.Remove(ctx, "bob"); err != nil {
				t.Fatal(err)
			}
			if err := users.Remove(ctx, "bob"); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("Remove of a missing user: %v", err)
			}
		})
	}
}
