package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // the catalog's database, read directly by the checker
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/freeport"
)

// The Debian-packaged servers the suite runs. Nothing else is needed besides the marquee binary.
const (
	mariadbInstallBin = "mariadb-install-db"
	mariadbdBin       = "mariadbd"
	natsServerBin     = "/usr/sbin/nats-server"
)

// missingServers names the server binaries that are not installed.
func missingServers() []string {
	var missing []string
	for _, b := range []string{mariadbInstallBin, mariadbdBin, natsServerBin} {
		if _, err := exec.LookPath(b); err != nil {
			if _, err := exec.LookPath(filepath.Join("/usr/sbin", b)); err != nil {
				missing = append(missing, b)
			}
		}
	}
	return missing
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/sbin", name)
}

// cluster is Marquee in split mode on this machine: its own MariaDB and nats-server, and the catalog, search
// and gateway as separate marquee processes, all on free loopback ports and under one folder.
type cluster struct {
	dir string

	mariadb, nats, catalog, search, gateway *proc
	// natsPeers are the other nodes of a three-node JetStream cluster (nats is the first); none for one
	// server. The stream then has three replicas.
	natsPeers []*proc
	natsURL   string // every node's client URL, comma-separated

	dbPort, natsPort, catalogPort, searchPort, gatewayPort int
	adminUser, adminPass                                   string

	db *sql.DB    // the catalog's database, for the checker
	nc *nats.Conn // the harness's own NATS connection (chaos, stream figures)
	js jetstream.JetStream
}

// The stream of the default configuration; each cluster has its own nats-server.
const (
	streamName    = "CATALOG"
	subjectPrefix = "catalog"
)

func subjectOf(id int64) string { return subjectPrefix + ".movie." + strconv.FormatInt(id, 10) }

// startCluster creates the folder, initialises MariaDB and starts every part, waiting until each is ready.
// natsNodes is 1 (one nats-server) or 3 (a JetStream cluster keeping the stream in three replicas).
func startCluster(ctx context.Context, dir, marquee string, natsNodes int) (*cluster, error) {
	c := &cluster{dir: dir, adminUser: "faults", adminPass: rand.Text()}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freeport.Ports(5)
	if err != nil {
		return nil, err
	}
	c.dbPort, c.natsPort, c.catalogPort, c.searchPort, c.gatewayPort = ports[0], ports[1], ports[2], ports[3], ports[4]
	if err := c.initMariaDB(ctx); err != nil {
		return nil, err
	}
	env := baseEnv()
	dbDir := filepath.Join(dir, "mariadb")
	mdbArgs := []string{"--no-defaults", "--datadir=" + filepath.Join(dbDir, "data"),
		"--port=" + strconv.Itoa(c.dbPort), "--bind-address=127.0.0.1", "--socket=" + filepath.Join(dbDir, "sock"),
		"--pid-file=" + filepath.Join(dbDir, "pid"), "--log-error=" + filepath.Join(dbDir, "error.log"),
		"--skip-grant-tables", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
		"--innodb-flush-log-at-trx-commit=1", "--max-connections=300"}
	if os.Geteuid() == 0 {
		mdbArgs = append(mdbArgs, "--user=root")
	}
	c.mariadb = &proc{name: "mariadb", path: lookBin(mariadbdBin), args: mdbArgs, env: env, log: filepath.Join(dir, "mariadb.log")}
	c.nats = &proc{name: "nats-server", path: natsServerBin, env: env, log: filepath.Join(dir, "nats.log"),
		args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(c.natsPort), "-js", "-sd", filepath.Join(dir, "nats")}}
	c.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", c.natsPort)
	if natsNodes == 3 {
		if err := c.natsCluster(dir, env); err != nil {
			return nil, err
		}
	}

	dsn := fmt.Sprintf("root@tcp(127.0.0.1:%d)/marquee", c.dbPort)
	natsURL := c.natsURL
	c.catalog = &proc{name: "catalog", path: marquee, log: filepath.Join(dir, "catalog.log"),
		// The reconciler also compares this search index, and the duplicates scenario sends old events again
		// from the outbox, which keeps them (environment variables, which an older -rev ignores).
		env: append(baseEnv(), "MARQUEE_ADMIN_USERNAME="+c.adminUser, "MARQUEE_ADMIN_PASSWORD="+c.adminPass,
			"MARQUEE_SEARCH_URL="+c.url(c.searchPort), "MARQUEE_OUTBOX_RETENTION=24h"),
		args: []string{"catalog", "--addr", c.addr(c.catalogPort), "--mysql-dsn", dsn, "--nats-url", natsURL,
			"--seed=", "--token-ttl", "2h"}}
	if natsNodes == 3 {
		c.catalog.args = append(c.catalog.args, "--stream-replicas", "3")
	}
	c.search = c.searchProc("search", filepath.Join(dir, "search"), c.searchPort)
	c.gateway = &proc{name: "gateway", path: marquee, log: filepath.Join(dir, "gateway.log"),
		env: append(baseEnv(), "MARQUEE_RATE_LIMIT=off"),
		args: []string{"gateway", "--addr", c.addr(c.gatewayPort),
			"--catalog-url", c.url(c.catalogPort), "--search-url", c.url(c.searchPort)}}

	if err := c.startMariaDB(ctx); err != nil {
		return c, err
	}
	if err := c.openDB(ctx); err != nil {
		return c, err
	}
	if err := c.startNATS(ctx); err != nil {
		return c, err
	}
	for _, p := range []struct {
		p   *proc
		url string
	}{{c.catalog, c.url(c.catalogPort)}, {c.search, c.url(c.searchPort)}, {c.gateway, c.url(c.gatewayPort)}} {
		if err := p.p.start(); err != nil {
			return c, err
		}
		if err := waitHTTP(ctx, p.url+"/readyz", 60*time.Second); err != nil {
			return c, fmt.Errorf("%s not ready: %w (log: %s)", p.p.name, err, p.p.log)
		}
	}
	return c, nil
}

// searchProc describes a search replica with its own data folder and port.
func (c *cluster) searchProc(name, dataDir string, port int) *proc {
	return &proc{name: name, path: c.catalog.path, env: baseEnv(), log: filepath.Join(c.dir, name+".log"),
		args: []string{"search", "--addr", c.addr(port), "--data-dir", dataDir,
			"--nats-url", c.natsURL}}
}

func (c *cluster) addr(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
func (c *cluster) url(port int) string  { return "http://127.0.0.1:" + strconv.Itoa(port) }

// baseEnv is the harness's environment without any MARQUEE_ setting, so that the caller's shell cannot
// change what the servers under test do.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MARQUEE_") {
			env = append(env, kv)
		}
	}
	return env
}

func (c *cluster) initMariaDB(ctx context.Context) error {
	dbDir := filepath.Join(c.dir, "mariadb")
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dbDir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db"}
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	cmd := exec.CommandContext(ctx, lookBin(mariadbInstallBin), args...)
	cmd.Env = baseEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("mariadb-install-db: %w\n%s", err, out)
	}
	return nil
}

// startMariaDB starts (or restarts) MariaDB on its folder and waits until it answers.
func (c *cluster) startMariaDB(ctx context.Context) error {
	if err := c.mariadb.start(); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.addr(c.dbPort), time.Second)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		if !c.mariadb.running() {
			return fmt.Errorf("mariadb exited during start (see %s)", c.mariadb.log)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("mariadb not listening after 60s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *cluster) openDB(ctx context.Context) error {
	admin, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", c.dbPort))
	if err != nil {
		return err
	}
	defer func() { _ = admin.Close() }()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS marquee CHARACTER SET utf8mb4"); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	c.db, err = sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/marquee?timeout=2s&readTimeout=10s&writeTimeout=10s", c.dbPort))
	if err != nil {
		return err
	}
	c.db.SetMaxOpenConns(4)
	c.db.SetConnMaxLifetime(5 * time.Second) // a restarted MariaDB must not leave dead connections behind
	return nil
}

// natsCluster makes c.nats the first of three nodes of a JetStream cluster on free loopback ports.
func (c *cluster) natsCluster(dir string, env []string) error {
	ports, err := freeport.Ports(5)
	if err != nil {
		return err
	}
	clientPorts := []int{c.natsPort, ports[0], ports[1]}
	routePorts := ports[2:]
	var urls, routes []string
	for i := range 3 {
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[i]))
	}
	c.natsURL = strings.Join(urls, ",")
	for i := range 3 {
		name := fmt.Sprintf("nats-%d", i+1)
		p := &proc{name: name, path: natsServerBin, env: env, log: filepath.Join(dir, name+".log"),
			args: []string{"-a", "127.0.0.1", "-p", strconv.Itoa(clientPorts[i]), "-js", "-sd", filepath.Join(dir, name),
				"-n", name, "--cluster_name", "faults", "--cluster", routes[i], "--routes", strings.Join(routes, ",")}}
		if i == 0 {
			c.nats = p
		} else {
			c.natsPeers = append(c.natsPeers, p)
		}
	}
	return nil
}

// natsNodes is every nats-server process.
func (c *cluster) natsNodes() []*proc { return append([]*proc{c.nats}, c.natsPeers...) }

// startNATS starts (or restarts) every nats-server that is not running and waits until JetStream answers;
// the harness connection reconnects by itself after a restart.
func (c *cluster) startNATS(ctx context.Context) error {
	for _, p := range c.natsNodes() {
		if !p.running() {
			if err := p.start(); err != nil {
				return err
			}
		}
	}
	if c.nc == nil {
		nc, err := nats.Connect(c.natsURL, nats.Name("marquee-faults"),
			nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
		if err != nil {
			return err
		}
		c.nc = nc
		if c.js, err = jetstream.New(nc); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.js.AccountInfo(actx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("jetstream not ready after 30s: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restart starts a stopped service again and waits until it is healthy (not necessarily ready: a catalog
// restarted while NATS is down is healthy, and ready only once its relay has drained).
func (c *cluster) restart(ctx context.Context, p *proc, port int) error {
	if err := p.start(); err != nil {
		return err
	}
	return waitHTTP(ctx, c.url(port)+"/healthz", 60*time.Second)
}

// streamInfo returns the stream's state; ok is false when the stream does not exist (or cannot be asked).
func (c *cluster) streamInfo(ctx context.Context) (jetstream.StreamState, bool, error) {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := c.js.Stream(sctx, streamName)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return jetstream.StreamState{}, false, nil
	}
	if err != nil {
		return jetstream.StreamState{}, false, err
	}
	return st.CachedInfo().State, true, nil
}

// streamNode is the nats-server process that leads the stream, nil if none does or it cannot be asked.
func (c *cluster) streamNode(ctx context.Context) *proc {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	st, err := c.js.Stream(sctx, streamName)
	if err != nil || st.CachedInfo().Cluster == nil {
		return nil
	}
	for _, p := range c.natsNodes() {
		if p.name == st.CachedInfo().Cluster.Leader {
			return p
		}
	}
	return nil
}

// close stops everything, MariaDB last so that the catalog does not log errors needlessly.
func (c *cluster) close() {
	for _, p := range append([]*proc{c.gateway, c.search, c.catalog}, append(c.natsNodes(), c.mariadb)...) {
		if p != nil && p.running() {
			if _, _, _, err := p.terminate(10 * time.Second); err != nil {
				_ = p.kill()
			}
		}
	}
	if c.nc != nil {
		c.nc.Close()
	}
	if c.db != nil {
		_ = c.db.Close()
	}
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: no 200 after %s (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
