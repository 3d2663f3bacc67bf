package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"marquee/pkg/config"
	"marquee/services/catalog/catalogsql"
)

// catalogDatabase is the catalog database a command of the one binary works on: mysql_dsn (a DSN or a
// mysql:// URL), else the URL a MySQL add-on put in the environment (JAWSDB_URL and the like), else the
// all-in-one's SQLite file under dataDir. from names the setting it came from, for logs and errors, which
// never show the DSN itself.
func catalogDatabase(dsn, dataDir string, getenv func(string) string) (src catalogsql.Source, from string, err error) {
	from = "mysql_dsn"
	if dsn == "" {
		dsn, from = catalogsql.AddonURL(getenv)
	}
	if dsn == "" {
		return catalogsql.Source{Dialect: catalogsql.SQLite, DSN: filepath.Join(dataDir, "catalog.db")}, "data_dir", nil
	}
	if src, err = catalogsql.ParseSource(dsn); err != nil {
		return src, from, fmt.Errorf("%s: %w", from, err)
	}
	return src, from, nil
}

// openCatalogDatabase opens what catalogDatabase names, with at most maxConns connections to a MySQL (0:
// catalogsql.DefaultMySQLConns). from is as catalogDatabase's.
func openCatalogDatabase(ctx context.Context, dsn, dataDir string, maxConns int, getenv func(string) string) (db *sql.DB, src catalogsql.Source, from string, err error) {
	src, from, err = catalogDatabase(dsn, dataDir, getenv)
	if err != nil {
		return nil, src, from, err
	}
	db, err = catalogsql.Open(ctx, src.Dialect, src.DSN, maxConns)
	if err != nil {
		return nil, src, from, fmt.Errorf("catalog database (%s): %w", from, err)
	}
	return db, src, from, nil
}

// migrateConfig names the database `marquee migrate` brings up to date.
type migrateConfig struct {
	DataDir  string `key:"data_dir" usage:"data folder of the all-in-one (its database is <data_dir>/catalog.db)"`
	MySQLDSN string `key:"mysql_dsn" usage:"MySQL/MariaDB DSN or mysql:// URL of the catalog, instead of data_dir; unset: a MySQL add-on's URL (JAWSDB_URL, JAWSDB_MARIA_URL, CLEARDB_DATABASE_URL, a mysql:// DATABASE_URL) if one is set" secret:"true"`
}

func newMigrateCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cfg := migrateConfig{DataDir: "./var"}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the catalog's database schema up to date, then exit",
		Long: `Apply the catalog's schema migrations that the database lacks, and exit. The
catalog applies them itself at start; run this first where a new version must
find its schema ready: Heroku's release phase, before a rolling deploy of the
split stack. Running it again changes nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			if src, _, err := catalogDatabase(cfg.MySQLDSN, cfg.DataDir, getenv); err == nil && src.Dialect == catalogsql.SQLite {
				if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
					return fmt.Errorf("create data folder: %w", err)
				}
			}
			db, src, _, err := openCatalogDatabase(cmd.Context(), cfg.MySQLDSN, cfg.DataDir, 0, getenv)
			if err != nil {
				return err
			}
			defer db.Close()
			dialect, err := catalogsql.DialectOf(src.Dialect)
			if err != nil {
				return err
			}
			if err := catalogsql.Migrate(cmd.Context(), db, dialect); err != nil {
				return fmt.Errorf("migrate the catalog database: %w", err)
			}
			_, err = fmt.Fprintf(stdout, "The catalog database (%s) is up to date.\n", src.Dialect)
			return err
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}

// errLockLost stops an all-in-one whose lock on its database was lost with the lock's connection.
var errLockLost = errors.New("lost the catalog database's lock with its connection; stopping, so that two all-in-ones never run on one database (a restart takes the lock again)")

// lockCheckEvery is how often an all-in-one makes sure it still holds its lock.
const lockCheckEvery = 5 * time.Second

// holdServeLock makes the all-in-one the only one on its MySQL database, until release. Each all-in-one
// relays the catalog's changes into a stream of its own: a second one over the same database (a second web
// dyno, a deploy that starts the new before it stops the old) would take a share of the changes into its
// stream, and each index would miss the other's until a reconciliation. The second therefore waits, saying
// why, until the first has stopped (its session ends with it, even when it is killed -9). The lock is looked
// at every few seconds, which also keeps its connection from the server's idle timeout; once it is lost
// (its connection ended, and another process may hold it now), stop is called with errLockLost: going on
// would run two.
func holdServeLock(ctx context.Context, log *slog.Logger, db *sql.DB, stop context.CancelCauseFunc) (release func(), err error) {
	var database string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&database); err != nil {
		return nil, fmt.Errorf("catalog database: %w", err)
	}
	name := serveLockName(database)
	lock, err := catalogsql.TakeLock(ctx, db, name, func() {
		log.Warn("another marquee serve runs on this catalog database (a second web dyno, or one still stopping): waiting until it stops; run one all-in-one per database, or the split stack for more",
			"lock", name)
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(lockCheckEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			held, err := lock.Held(ctx)
			if held || ctx.Err() != nil {
				continue
			}
			log.Error(errLockLost.Error(), "lock", name, "err", err)
			stop(errLockLost)
			return
		}
	}()
	return func() {
		cancel()
		<-done
		_ = lock.Release()
	}, nil
}

// serveLockName is the lock of the all-in-one on database: MySQL's names are at most 64 characters.
func serveLockName(database string) string {
	name := "marquee serve " + database
	if len(name) > 64 {
		name = fmt.Sprintf("marquee serve %x", sha256.Sum256([]byte(database)))[:64]
	}
	return name
}
