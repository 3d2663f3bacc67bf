package catalogsql

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DefaultMySQLConns is how many connections a process opens to MySQL at most unless told otherwise: what the
// catalog needs on two cores, and what a small managed plan allows (JawsDB's smallest, 10 for every
// process of the app).
const DefaultMySQLConns = 10

// Open opens and pings a database of the given dialect with the pool and session settings the store relies
// on. For SQLite, dsn is a file path (optionally "file:" URI without query); for MySQL it is a
// go-sql-driver DSN, to which Open adds parseTime, UTC, utf8mb4 and timeouts, and maxConns bounds the
// connections it opens (0: DefaultMySQLConns). A request that finds every connection busy waits for one
// instead of failing on the server's limit.
func Open(ctx context.Context, dialect, dsn string, maxConns int) (*sql.DB, error) {
	var (
		db  *sql.DB
		err error
	)
	switch dialect {
	case SQLite:
		db, err = openSQLite(dsn)
	case MySQL:
		db, err = openMySQL(dsn, cmp.Or(maxConns, DefaultMySQLConns))
	default:
		_, err = DialectOf(dialect)
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping %s database: %w", dialect, dbErr(err))
	}
	return db, nil
}

func openSQLite(path string) (*sql.DB, error) {
	path = strings.TrimPrefix(path, "file:")
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		// An in-memory database would be one per pooled connection.
		return nil, fmt.Errorf("sqlite: want a file path, got %q", path)
	}
	q := url.Values{}
	// WAL lets readers run beside the one writer; busy_timeout makes writers queue instead of failing;
	// _txlock=immediate takes the write lock at BEGIN, so two writers never deadlock upgrading a read lock.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, dbErr(err))
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

func openMySQL(dsn string, maxConns int) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse mysql dsn: %w", dbErr(err)) // ParseDSN errors do not echo the password
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	if err := cfg.Apply(mysql.Charset("utf8mb4", "utf8mb4_unicode_ci")); err != nil {
		return nil, fmt.Errorf("mysql charset: %w", dbErr(err))
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", dbErr(err))
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}
