package catalogsql

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"path/filepath"
	"testing"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/testenv"
	"marquee/services/catalog"
)

// TestMigrateKeepsMovies migrates a database holding movies of migration 0001 only: they read back with
// the new fields empty.
func TestMigrateKeepsMovies(t *testing.T) {
	for _, dialect := range []string{SQLite, MySQL} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db, d := openMigratedBefore(t, dialect, "0002")
			const q = `INSERT INTO movies (title, directors, cast_members, genres, overview, version, created_at, updated_at)
			VALUES ('Old', '[]', '[]', '["Drama"]', '', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')`
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"ada", "bob"} {
				const qu = `INSERT INTO users (username, password_hash, role, created_at, updated_at) VALUES (?, 'h', 'admin', '2026-01-01 00:00:00', '2026-01-01 00:00:00')`
				if _, err := db.ExecContext(ctx, qu, name); err != nil {
					t.Fatal(err)
				}
			}
			if err := Migrate(ctx, db, d); err != nil {
				t.Fatal(err)
			}
			m, err := New(db, d).Movie(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			var key string
			if err := db.QueryRowContext(ctx, `SELECT title_key FROM movies WHERE id = 1`).Scan(&key); err != nil || key != "old" {
				t.Errorf("title_key of a movie older than the column = %q, %v; want Migrate to fill it", key, err)
			}
			if m.Title != "Old" || m.Keywords == nil || len(m.Keywords) != 0 || m.Tags == nil || m.TMDBID != nil || m.Tagline != "" {
				t.Fatalf("migrated movie = %+v", m)
			}
			// Accounts of before the principals get ids of their own, and new ones come after them.
			store := New(db, d)
			ada, errA := store.UserByName(ctx, "ada")
			bob, errB := store.UserByName(ctx, "bob")
			carol, errC := store.CreateUser(ctx, catalog.User{Username: "carol", Role: catalog.RoleUser, PasswordHash: "h"})
			if errors.Join(errA, errB, errC) != nil || ada.ID <= 0 || bob.ID <= 0 || ada.ID == bob.ID || carol.ID <= max(ada.ID, bob.ID) {
				t.Fatalf("ids: ada %+v, bob %+v, carol %+v (%v %v %v)", ada, bob, carol, errA, errB, errC)
			}
		})
	}
}

// openMigratedBefore opens a new database of the dialect, closed when the test ends, holding the schema of
// the migrations whose names sort before the name given: a database an older catalog left behind.
func openMigratedBefore(t *testing.T, dialect, name string) (*sql.DB, Dialect) {
	t.Helper()
	ctx := context.Background()
	var dsn string
	if dialect == MySQL {
		dsn = freshMySQL(t)
	} else {
		dsn = filepath.Join(t.TempDir(), "c.db")
	}
	db, err := Open(ctx, dialect, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	d, _ := DialectOf(dialect)
	files, err := migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	var before []migration
	for _, m := range files {
		if m.name < name {
			before = append(before, m)
		}
	}
	if err := migrate(ctx, db, before); err != nil {
		t.Fatal(err)
	}
	return db, d
}

func freshMySQL(t *testing.T) string {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	ctx := context.Background()
	admin, err := Open(ctx, MySQL, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Close() })
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "marquee_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP DATABASE "+name) })
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = name
	return cfg.FormatDSN()
}

// TestMigrateRetiresOutboxSubject migrates a database whose outbox still has the subject column and a
// pending event written with it: the event is still relayed, and new writes queue theirs without the column.
// On MySQL, which processes of two releases share during a rolling deploy, the column stays with a default,
// so that a process of the release before still inserts and reads rows; SQLite's goes.
func TestMigrateRetiresOutboxSubject(t *testing.T) {
	for _, dialect := range []string{SQLite, MySQL} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			db, d := openMigratedBefore(t, dialect, "0007")
			const before = `INSERT INTO outbox (event_id, movie_id, version, subject, payload, created_at)
			VALUES (?, ?, 1, ?, '{}', '2026-01-01 00:00:00')`
			if _, err := db.ExecContext(ctx, before, "movie.99.v1", 99, "marquee.movie.99"); err != nil {
				t.Fatal(err)
			}
			if err := Migrate(ctx, db, d); err != nil {
				t.Fatal(err)
			}
			store := New(db, d)
			if _, err := store.CreateMovie(ctx, "test", catalog.MovieInput{Title: "New"}, catalog.CreateAnyway); err != nil {
				t.Fatal(err)
			}
			want := 2
			if dialect == SQLite {
				if _, err := db.ExecContext(ctx, `SELECT subject FROM outbox`); err == nil {
					t.Error("SQLite's outbox still has its subject column")
				}
			} else {
				// What a catalog of the release before does while the new one starts: insert with the column, and
				// read every pending row's.
				if _, err := db.ExecContext(ctx, before, "movie.98.v1", 98, "marquee.movie.98"); err != nil {
					t.Fatalf("a catalog of the release before cannot insert: %v", err)
				}
				var subjects []string
				rows, err := db.QueryContext(ctx, `SELECT subject FROM outbox ORDER BY id`)
				if err != nil {
					t.Fatalf("a catalog of the release before cannot read the outbox: %v", err)
				}
				for rows.Next() {
					var s string
					if err := rows.Scan(&s); err != nil {
						t.Fatalf("a catalog of the release before cannot read a new row: %v", err)
					}
					subjects = append(subjects, s)
				}
				if err := rows.Err(); err != nil || len(subjects) != 3 {
					t.Fatalf("subjects %q (%v), want three rows", subjects, err)
				}
				want = 3
			}
			pending, err := store.PendingEvents(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(pending) != want || pending[0].EventID != "movie.99.v1" || string(pending[0].Payload) != "{}" || pending[1].MovieID == 0 {
				t.Fatalf("pending = %+v, want the old event, the new one (and the old release's second)", pending)
			}
		})
	}
}
