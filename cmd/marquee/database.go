package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"

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

// openCatalogDatabase opens what catalogDatabase names.
func openCatalogDatabase(ctx context.Context, dsn, dataDir string, getenv func(string) string) (*sql.DB, catalogsql.Source, error) {
	src, from, err := catalogDatabase(dsn, dataDir, getenv)
	if err != nil {
		return nil, src, err
	}
	db, err := catalogsql.Open(ctx, src.Dialect, src.DSN)
	if err != nil {
		return nil, src, fmt.Errorf("catalog database (%s): %w", from, err)
	}
	return db, src, nil
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
			db, src, err := openCatalogDatabase(cmd.Context(), cfg.MySQLDSN, cfg.DataDir, getenv)
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
