package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
	"marquee/pkg/natsx/natsembed"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/gateway"
	"marquee/services/search/searchsvc"
)

// serveConfig configures the all-in-one. It needs no configuration at all: everything lives under data_dir.
// It takes the settings of the three parts under the keys they have in split mode, but for those that connect
// the parts over a network (they share a process here) and those the all-in-one decides itself.
type serveConfig struct {
	DataDir       string `key:"data_dir" usage:"folder for the database, the event stream and the search index"`
	MySQLDSN      string `key:"mysql_dsn" usage:"keep the catalog in this MySQL/MariaDB (a DSN or a mysql:// URL) instead of SQLite under data_dir; unset: a MySQL add-on's URL (JAWSDB_URL, JAWSDB_MARIA_URL, CLEARDB_DATABASE_URL, a mysql:// DATABASE_URL) if one is set" secret:"true"`
	MySQLMaxConns int    `key:"mysql_max_conns" usage:"connections to that MySQL at most, one of them holding the all-in-one's lock on it; requests beyond wait for one (a managed plan's limit is for every process of the app)"`

	Gateway gateway.Config    `prefix:"" omit:"catalog_url,search_url,search_shards,internal_token"`
	Catalog catalogsvc.Config `prefix:"" omit:"addr,mysql_dsn,mysql_max_conns,nats_url,nats_user,nats_password,stream,subject_prefix,stream_partitions,stream_replicas,admin_password_file,internal_token,search_url"`
	Search  searchsvc.Config  `prefix:"" omit:"addr,data_dir,nats_url,nats_user,nats_password,stream,subject_prefix,stream_partitions,partition,peers,internal_token,bootstrap_from"`
}

func defaultServeConfig() serveConfig {
	cfg := serveConfig{DataDir: "./var", MySQLMaxConns: catalogsql.DefaultMySQLConns,
		Gateway: gateway.DefaultConfig(), Catalog: catalogsvc.DefaultConfig(), Search: searchsvc.DefaultConfig()}
	cfg.Catalog.Seed = "data/imdb.json"
	return cfg
}

// Validate checks every part's settings as the part will read them, before anything starts: a mistake is
// reported at once, not after the catalog has migrated its database and loaded the seed.
func (c *serveConfig) Validate() error {
	cat, srch := c.catalogConfig(), c.searchConfig()
	var errs []error
	if err := c.Gateway.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("invalid gateway config: %w", err))
	}
	if err := cat.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("invalid catalog config: %w", err))
	}
	if err := srch.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("invalid search config: %w", err))
	}
	return errors.Join(errs...)
}

// catalogConfig is the catalog's configuration in the all-in-one.
func (c *serveConfig) catalogConfig() catalogsvc.Config {
	cat := c.Catalog
	cat.AdminPasswordFile = filepath.Join(c.DataDir, "admin-password")
	return cat
}

// searchConfig is the search service's configuration in the all-in-one.
func (c *serveConfig) searchConfig() searchsvc.Config {
	srch := c.Search
	srch.DataDir = filepath.Join(c.DataDir, "search")
	return srch
}

// gatewayConfig is the gateway's configuration in the all-in-one; its backends' URLs are not used.
func (c *serveConfig) gatewayConfig() (gateway.Config, error) {
	g := c.Gateway
	return g, g.Validate()
}

func newServeCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cfg := defaultServeConfig()
	cmd := partCommand("serve", "Run the whole of Marquee in one process (embedded NATS, SQLite, Bleve)",
		&cfg, &cfg.Gateway.LogLevel, getenv, stderr, func(ctx context.Context, log *slog.Logger) error {
			return serve(ctx, log, cfg, getenv, stdout)
		})
	cmd.Long = `Run the gateway, the catalog and search in one process, with an embedded NATS
server, SQLite and an on-disk Bleve index, all under --data-dir. On first start it
loads --seed through the catalog and creates an admin (MARQUEE_ADMIN_USERNAME and
MARQUEE_ADMIN_PASSWORD, or "admin" with a generated password it prints once).

With --mysql-dsn (or a MySQL add-on's URL in the environment) the catalog, its
users, API keys and signing keys live in that database instead: a machine whose
disk is lost (a Heroku dyno's, every day) starts with an empty data folder,
republishes the database's movies to its new stream and rebuilds the index.

Every setting of the split parts that makes sense in one process can be set here
too, under the same name: the ranking (--rank-*), the result cache
(--cache-bytes, --cache-max-age), the gateway's limits (--rate-*, --max-*-bytes),
the outbox relay's and the reconciler's. Those that connect the parts over a network
(--nats-url, --internal-token, the parts' addresses) have no use here.`
	return cmd
}

// republishWindow is how far back the catalog's relay publishes again, when it starts, the events it had
// published: ten of the embedded server's sync intervals, within its duplicate window, which drops those the
// stream kept.
const republishWindow = 10 * natsembed.SyncInterval

// serve runs the all-in-one until ctx is done. Only this function knows that the parts share a process:
// they get the same kind of handles as in split mode, an in-process NATS connection instead of a TCP one
// and each other's handlers instead of reverse proxies.
func serve(ctx context.Context, log *slog.Logger, cfg serveConfig, getenv func(string) string, stdout io.Writer) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data folder: %w", err)
	}
	searchsvc.TuneGC()
	ns, err := natsembed.Run(natsembed.Options{StoreDir: filepath.Join(cfg.DataDir, "nats")})
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	nc, err := ns.Connect(natsx.ConnOptions(log, "marquee")...)
	if err != nil {
		return err
	}
	defer natsx.Drain(log, nc, 5*time.Second)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	db, dbSource, from, err := openCatalogDatabase(ctx, cfg.MySQLDSN, cfg.DataDir, max(cfg.MySQLMaxConns, 1), getenv)
	if err != nil {
		return err
	}
	if dbSource.Dialect == catalogsql.MySQL && cfg.MySQLMaxConns < 2 {
		_ = db.Close()
		return errors.New("mysql_max_conns must be at least 2: one holds the all-in-one's lock on the database")
	}
	defer db.Close()
	log.Info("catalog database", "dialect", dbSource.Dialect, "from", from)
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	if dbSource.Dialect == catalogsql.MySQL {
		release, err := holdServeLock(ctx, log, db, stop)
		if err != nil {
			return err
		}
		defer release()
	}

	reg := httpx.NewRegistry() // one registry for every part, served at the gateway's /metrics
	srch, err := searchsvc.New(ctx, cfg.searchConfig(), searchsvc.Deps{Log: log.With("part", "search"), JS: js, Registry: reg})
	if err != nil {
		return err
	}
	defer srch.Close()

	cat, err := catalogsvc.New(ctx, cfg.catalogConfig(), catalogsvc.Deps{Log: log.With("part", "catalog"), DB: db, Dialect: dbSource.Dialect, JS: js, Stdout: stdout,
		Registry: reg, SearchIndex: srch.Handler(), Republish: republishWindow})
	if err != nil {
		return err
	}
	defer cat.Close()

	gwCfg, err := cfg.gatewayConfig()
	if err != nil {
		return fmt.Errorf("invalid config: %w", err)
	}
	gwOpts := gwCfg.Options()
	gwOpts.HTTPMetrics, gwOpts.Metrics = httpx.NewMetrics(reg), httpx.MetricsHandler(reg)
	gwOpts.ReadyWaitsForCatalog = true // the seed is searchable when it first says ready
	gw := gateway.NewHandler(log.With("part", "gateway"), gateway.Backends{Catalog: cat.Handler(), Search: srch.Handler()}, gwOpts)
	ln, err := net.Listen("tcp", gwCfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", gwCfg.Addr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Marquee is serving on %s (data in %s)\n", base, cfg.DataDir)

	// The HTTP server stops first; the relay and the indexer stop after it, so no request in flight loses
	// the parts it needs.
	background, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer stopBackground()
		return httpx.Serve(gctx, log, ln, gw)
	})
	g.Go(func() error { return cat.Run(background) })
	g.Go(func() error { return srch.Run(background) })
	g.Go(func() error { announceReady(gctx, gw, base, stdout); return nil })
	err = g.Wait()
	if cause := context.Cause(ctx); errors.Is(cause, errLockLost) {
		return cause
	}
	return err
}

// announceReady tells the person at the terminal when the catalog is searchable and how to try it.
func announceReady(ctx context.Context, gw http.Handler, base string, stdout io.Writer) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "/readyz", nil))
		if rec.Code == http.StatusOK {
			fmt.Fprintf(stdout, "Ready. Try: curl '%s/v1/movies?q=godfater'   (API document: %s/openapi.json)\n", base, base)
			return
		}
	}
}
