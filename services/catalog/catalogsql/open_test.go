package catalogsql

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"
)

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	for _, bad := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := Open(ctx, SQLite, bad, 0); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
	if _, err := Open(ctx, "postgres", "x", 0); err == nil {
		t.Error("Open accepted an unknown dialect")
	}
	db, err := Open(ctx, SQLite, filepath.Join(t.TempDir(), "c.db"), 0)
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
	files, err := migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) || n < 4 {
		t.Errorf("schema_migrations rows = %d, %v; want one a migration file (%d)", n, err, len(files))
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

// TestMySQLPoolWithinTheServersLimit: a managed MySQL plan allows a user a few connections; the pool
// opens no more than it is told, and requests beyond it wait for a connection instead of failing on the
// server's limit (1226, max_user_connections exceeded).
func TestMySQLPoolWithinTheServersLimit(t *testing.T) {
	dsn := freshMySQL(t)
	ctx := context.Background()
	admin, err := Open(ctx, MySQL, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close() }()
	if got := admin.Stats().MaxOpenConnections; got != DefaultMySQLConns {
		t.Errorf("default pool: %d connections at most, want %d", got, DefaultMySQLConns)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 3
	user := "mq_pool_" + cfg.DBName[len(cfg.DBName)-8:]
	for _, q := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pool-test-pw' WITH MAX_USER_CONNECTIONS %d", user, limit),
		fmt.Sprintf("GRANT ALL ON `%s`.* TO '%s'@'%%'", cfg.DBName, user),
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = admin.ExecContext(context.Background(), "DROP USER '"+user+"'@'%'") })
	cfg.User, cfg.Passwd = user, "pool-test-pw"

	db, err := Open(ctx, MySQL, cfg.FormatDSN(), limit)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	var g errgroup.Group
	for range 4 * limit {
		g.Go(func() error {
			_, err := db.ExecContext(ctx, "SELECT SLEEP(0.05)")
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("%d requests at once over a pool of %d: %v", 4*limit, limit, err)
	}
	if got := db.Stats().MaxOpenConnections; got != limit {
		t.Errorf("pool of %d connections at most, want %d", got, limit)
	}
}
