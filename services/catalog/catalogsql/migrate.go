package catalogsql

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"marquee/services/catalog"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrate applies the dialect's embedded migrations that the database has not seen yet, in file name order,
// recording each in schema_migrations. Concurrent starts are serialised: by an advisory lock on MySQL, by
// the write lock of one immediate transaction on SQLite (whose DDL is transactional).
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	files, err := migrations(d)
	if err != nil {
		return err
	}
	if d.Name == SQLite {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: %w", dbErr(err))
		}
		defer func() { _ = tx.Rollback() }()
		if err := migrate(ctx, tx, files); err != nil {
			return err
		}
		if err := fillTitleKeys(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", dbErr(err))
	}
	defer func() { _ = conn.Close() }()
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK('marquee_catalog_migrate', 60)`).Scan(&got); err != nil {
		return fmt.Errorf("migrate: take lock: %w", dbErr(err))
	}
	if got.Int64 != 1 {
		return fmt.Errorf("migrate: another process holds the migration lock")
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK('marquee_catalog_migrate')`)
	}()
	if err := migrate(ctx, conn, files); err != nil {
		return err
	}
	return fillTitleKeys(ctx, conn)
}

// fillTitleKeys computes the title key of the rows written before the column was: SQL cannot, the rule is
// Go's (catalog.TitleKey). Every start looks, so an interrupted fill resumes; once done, the look is one
// index probe.
func fillTitleKeys(ctx context.Context, db execQuerier) error {
	for {
		rows, err := db.QueryContext(ctx, `SELECT id, title FROM movies WHERE title_key IS NULL ORDER BY id LIMIT 1000`)
		if err != nil {
			return fmt.Errorf("fill title keys: %w", dbErr(err))
		}
		type row struct {
			id    int64
			title string
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.title); err != nil {
				_ = rows.Close()
				return fmt.Errorf("fill title keys: %w", dbErr(err))
			}
			todo = append(todo, r)
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("fill title keys: %w", dbErr(err))
		}
		if len(todo) == 0 {
			return nil
		}
		for _, r := range todo {
			if _, err := db.ExecContext(ctx, `UPDATE movies SET title_key = ? WHERE id = ?`, catalog.TitleKey(r.title), r.id); err != nil {
				return fmt.Errorf("fill title keys: %w", dbErr(err))
			}
		}
	}
}

// execQuerier is what *sql.Tx and *sql.Conn have in common.
type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type migration struct {
	name string
	body string
}

func migrations(d Dialect) ([]migration, error) {
	dir := "migrations/" + d.Name
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", d.Name, dbErr(err))
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		body, err := fs.ReadFile(migrationFiles, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{name: e.Name(), body: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func migrate(ctx context.Context, db execQuerier, files []migration) error {
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(255) NOT NULL PRIMARY KEY, applied_at VARCHAR(64) NOT NULL)`
	if _, err := db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("create schema_migrations: %w", dbErr(err))
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", dbErr(err))
	}
	done := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			_ = rows.Close()
			return fmt.Errorf("read schema_migrations: %w", dbErr(err))
		}
		done[name] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", dbErr(err))
	}
	for _, m := range files {
		if done[m.name] {
			continue
		}
		for _, stmt := range statements(m.body) {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, dbErr(err))
			}
		}
		const q = `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`
		if _, err := db.ExecContext(ctx, q, m.name, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("record migration %s: %w", m.name, dbErr(err))
		}
	}
	return nil
}

// statements splits a migration into statements at semicolons ending a line. Our migrations hold no
// semicolons inside literals, and the MySQL driver runs one statement per call.
func statements(body string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.Lines(body) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			if s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"); s != "" {
				out = append(out, s)
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}
