package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
)

// TestNATSLeastPrivilege runs the split stack on a NATS server that enforces the split deployment's own
// users and permissions (deploy/nats/auth.conf): the catalog and search connect as their users and do all
// their work (the seed, writes, API keys, the consumer, the dead-letter stream, the cursor key), while a
// connection without credentials is refused and search's user cannot publish a movie's change.
func TestNATSLeastPrivilege(t *testing.T) {
	const catalogPassword, searchPassword = "catalog-nats-secret-0123", "search-nats-secret-0123"
	ns := startNATSWithAuth(t, map[string]string{"NATS_CATALOG_PASSWORD": catalogPassword, "NATS_SEARCH_PASSWORD": searchPassword})
	url := ns.ClientURL()

	if nc, err := nats.Connect(url, nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was accepted")
	}
	forged := make(chan error, 1)
	nc, err := nats.Connect(url, nats.UserInfo("search", searchPassword), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case forged <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if err := nc.Publish("catalog.movie.999999", []byte(`{"schema":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-forged:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("search's user publishing a movie change: %v, want a permissions violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("search's user published a movie change without a permissions violation")
	}

	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	common := map[string]string{"MARQUEE_NATS_URL": url, "MARQUEE_RATE_LIMIT": "off",
		"MARQUEE_ADMIN_USERNAME": "ops", "MARQUEE_ADMIN_PASSWORD": "least privilege secret"}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range common {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	cat := startCommand(t, with(map[string]string{"MARQUEE_NATS_USER": "catalog", "MARQUEE_NATS_PASSWORD": catalogPassword}),
		"catalog", "--addr", "127.0.0.1:0", "--mysql-dsn", "sqlite:"+filepath.Join(t.TempDir(), "catalog.db"), "--seed", seed)
	catalogURL := addrOf(t, cat.stderr, "listening")
	srch := startCommand(t, with(map[string]string{"MARQUEE_NATS_USER": "search", "MARQUEE_NATS_PASSWORD": searchPassword}),
		"search", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	searchURL := addrOf(t, srch.stderr, "listening")
	gw := startCommand(t, with(nil), "gateway", "--addr", "127.0.0.1:0", "--catalog-url", catalogURL, "--search-url", searchURL)
	c := &client{t: t, base: addrOf(t, gw.stderr, "listening")}
	waitFor(t, "readiness on the NATS with users", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		return nil
	})
	waitFor(t, "the seed", 60*time.Second, func() error {
		if total := c.search("per_page=1").Total; total != 248 {
			return fmt.Errorf("%d movies, want 248", total)
		}
		return nil
	})
	exerciseCatalog(t, c, "ops", "least privilege secret", 248)
	// The reconciler reads each movie's last event from the stream, as the catalog's user.
	c.login("ops", "least privilege secret")
	var report struct {
		Checked  int `json:"checked"`
		Repaired int `json:"repaired"`
	}
	c.must(200, "POST", "/v1/admin/reconcile", nil, nil).json(t, &report)
	if report.Checked < 248 || report.Repaired != 0 {
		t.Fatalf("reconcile: %+v; want every movie compared, each found in the stream as the database has it", report)
	}

	// Search acknowledges what it applied: nothing waits for an acknowledgement once the writes are indexed
	// (a refused acknowledgement leaves the events pending, to be delivered again and again).
	waitFor(t, "search's acknowledgements", 15*time.Second, func() error {
		jsz, err := ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
		if err != nil {
			return err
		}
		consumers := 0
		for _, acc := range jsz.AccountDetails {
			for _, st := range acc.Streams {
				if st.Name != "CATALOG" {
					continue
				}
				for _, ci := range st.Consumer {
					consumers++
					if ci.NumAckPending > 0 {
						return fmt.Errorf("consumer %s: %d events wait for an acknowledgement", ci.Name, ci.NumAckPending)
					}
				}
			}
		}
		if consumers == 0 {
			return errors.New("no consumer of the stream")
		}
		return nil
	})

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "CATALOG")
	if err != nil {
		t.Fatalf("search's user reading the stream's state: %v", err)
	}
	if n := st.CachedInfo().State.NumSubjects; n < 248 {
		t.Fatalf("the stream holds %d movies, want the seed's 248 at least", n)
	}
}

// TestNATSLeastPrivilegePartitioned: a search service holding one partition of a partitioned stream does
// its work with search's user too: it consumes its partition, tells how far behind it is (it was once never
// ready there, asking the server for what its user may not read) and holds that partition's movies only.
func TestNATSLeastPrivilegePartitioned(t *testing.T) {
	const catalogPassword, searchPassword = "catalog-nats-secret-0123", "search-nats-secret-0123"
	ns := startNATSWithAuth(t, map[string]string{"NATS_CATALOG_PASSWORD": catalogPassword, "NATS_SEARCH_PASSWORD": searchPassword})
	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	env := func(user, password string) map[string]string {
		return map[string]string{"MARQUEE_NATS_URL": ns.ClientURL(), "MARQUEE_NATS_USER": user, "MARQUEE_NATS_PASSWORD": password,
			"MARQUEE_STREAM_PARTITIONS": "3", "MARQUEE_ADMIN_USERNAME": "ops", "MARQUEE_ADMIN_PASSWORD": "least privilege secret"}
	}
	startCommand(t, env("catalog", catalogPassword),
		"catalog", "--addr", "127.0.0.1:0", "--mysql-dsn", "sqlite:"+filepath.Join(t.TempDir(), "catalog.db"), "--seed", seed)
	shard := env("search", searchPassword)
	shard["MARQUEE_PARTITION"] = "1"
	srch := startCommand(t, shard, "search", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir())
	c := &client{t: t, base: addrOf(t, srch.stderr, "listening")}
	stream := events.Stream{Partitions: 3}
	want := 0
	for id := int64(1); id <= 248; id++ {
		if stream.Partition(id) == 1 {
			want++
		}
	}
	waitFor(t, "partition 1 of the seed, ready", 60*time.Second, func() error {
		if r := c.do("GET", "/readyz", nil, nil); r.status != 200 {
			return fmt.Errorf("readyz %d: %s", r.status, r.body)
		}
		if total := c.search("per_page=1").Total; total != want {
			return fmt.Errorf("%d movies, want partition 1's %d of the seed's 248", total, want)
		}
		return nil
	})
}

// startNATSWithAuth runs a JetStream server in the process with deploy/nats/auth.conf's users, whose
// passwords come from env.
func startNATSWithAuth(t *testing.T, env map[string]string) *server.Server {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	auth, err := os.ReadFile("../../deploy/nats/auth.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.conf"), auth, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("host: 127.0.0.1\nport: -1\njetstream { store_dir: %q }\ninclude ./auth.conf\n", filepath.Join(dir, "js"))
	if err := os.WriteFile(filepath.Join(dir, "nats.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats.conf"))
	if err != nil {
		t.Fatalf("deploy/nats/auth.conf: %v", err)
	}
	opts.NoSigs, opts.NoLog = true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	return ns
}
