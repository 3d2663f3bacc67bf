package catalogsql

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(ctx, SQLite, bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := Open(ctx, "postgres", "x"); err == nil {
		t.Error("Open accepted an unknown dialect")
	}
	db, err := Open(ctx, SQLite, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
	d, _ := DialectOf(SQLite)
	for range 2 { // a second run finds everything applied
		if err := Migrate(ctx, db, d); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != 3 {
		t.Errorf("schema_migrations rows = %d, %v; want 3", n, err)
	}
}

func TestStatements(t *testing.T) {
	got := statements("-- comment\nCREATE TABLE a (x INT, -- inline\n y INT);\n\nCREATE INDEX i ON a (x);\n")
	want := []string{"CREATE TABLE a (x INT, -- inline\n y INT)", "CREATE INDEX i ON a (x)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements = %q, want %q", got, want)
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&mysql.MySQLError{Number: 1213}, true},
		{&mysql.MySQLError{Number: 1062}, false},
		{errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := retryable(tt.err); got != tt.want {
			t.Errorf("retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
