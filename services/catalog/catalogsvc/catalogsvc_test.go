package catalogsvc_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/natsx/natsembed"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/catalog/catalogtest"
)

var seedFile = filepath.Join("..", "..", "..", "data", "imdb.json")

func testConfig() catalogsvc.Config {
	cfg := catalogsvc.DefaultConfig()
	cfg.Stream, cfg.SubjectPrefix = "CATALOG_SVC_TEST", "svctest"
	return cfg
}

// mustStart runs New on the SQLite file at path; the database handle closes when the test ends.
func mustStart(t *testing.T, cfg catalogsvc.Config, path string, js jetstream.JetStream, stdout io.Writer) *catalogsvc.Service {
	t.Helper()
	svc, err := catalogsvc.New(context.Background(), cfg, catalogsvc.Deps{
		DB: catalogtest.MustOpenSQLiteAt(t, path), Dialect: catalogsql.SQLite, JS: js, Stdout: stdout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func login(t *testing.T, svc *catalogsvc.Service, username, pw string) int {
	t.Helper()
	body := `{"username":"` + username + `","password":"` + pw + `"}`
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	svc.Handler().ServeHTTP(rec, req)
	return rec.Code
}

func TestSeedOnce(t *testing.T) {
	ctx := context.Background()
	js := testenv.JetStream(t)
	path := filepath.Join(t.TempDir(), "catalog.db")
	cfg := testConfig()
	cfg.Seed = seedFile
	for start := range 2 {
		svc := mustStart(t, cfg, path, js, io.Discard)
		ms, err := svc.Store().Movies(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 248 {
			t.Fatalf("start %d: %d movies, want 248", start, len(ms))
		}
		if n, err := svc.Store().Backlog(ctx); err != nil || n != 248 {
			t.Fatalf("start %d: backlog %d, %v; want 248 (the seed's events, once)", start, n, err)
		}
	}
	// Once seeded, a start does not need the seed file at all.
	cfg.Seed = filepath.Join(t.TempDir(), "gone.json")
	if n, err := mustStart(t, cfg, path, js, io.Discard).Store().Backlog(ctx); err != nil || n != 248 {
		t.Fatalf("start without the seed file: backlog %d, %v; want 248", n, err)
	}
}

func TestSeedReachesTheStream(t *testing.T) {
	js := testenv.JetStream(t)
	cfg := testConfig()
	cfg.Seed = seedFile
	runUntilReady(t, mustStart(t, cfg, filepath.Join(t.TempDir(), "catalog.db"), js, io.Discard))
	ctx := context.Background()
	st, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 248 {
		t.Errorf("stream holds %d messages, want 248", info.State.Msgs)
	}
}

// runUntilReady runs svc until the test ends and waits until it is ready.
func runUntilReady(t *testing.T, svc *catalogsvc.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(30 * time.Second)
	for svc.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", svc.Ready(ctx))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// streamInfo is the stream and what it holds now.
func streamInfo(t *testing.T, js jetstream.JetStream, name string) (jetstream.Stream, *jetstream.StreamInfo) {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st, info
}

// TestStartRepublishesWhatTheStreamLacks: a catalog that starts over an empty stream (a new machine, a lost
// disk) while its database holds movies republishes every one of them before it says it is ready; one that
// starts over a stream that has them all republishes nothing.
func TestStartRepublishesWhatTheStreamLacks(t *testing.T) {
	ctx := context.Background()
	js := testenv.JetStream(t)
	path := filepath.Join(t.TempDir(), "catalog.db")
	cfg := testConfig()
	cfg.Seed = seedFile
	runUntilReady(t, mustStart(t, cfg, path, js, io.Discard))
	if err := js.DeleteStream(ctx, cfg.Stream); err != nil {
		t.Fatal(err)
	}

	runUntilReady(t, mustStart(t, cfg, path, js, io.Discard))
	st, info := streamInfo(t, js, cfg.Stream)
	if info.State.NumSubjects != 248 {
		t.Fatalf("after a start over an empty stream it holds %d movies, want the database's 248", info.State.NumSubjects)
	}

	// A start over a stream that holds every movie publishes nothing.
	runUntilReady(t, mustStart(t, cfg, path, js, io.Discard))
	again, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.State.LastSeq != info.State.LastSeq {
		t.Fatalf("a start over a whole stream published %d messages", again.State.LastSeq-info.State.LastSeq)
	}
}

// TestStartWithoutTheSearchService: in the split stack the catalog compares search_url's index too, but
// the start's catch-up republishes from the stream alone: a search service that is down or still starting
// must not keep the catalog from being ready, and search catches up from the stream once it is up.
func TestStartWithoutTheSearchService(t *testing.T) {
	ctx := context.Background()
	js := testenv.JetStream(t)
	path := filepath.Join(t.TempDir(), "catalog.db")
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	cfg := testConfig()
	cfg.Seed = seedFile
	runUntilReady(t, mustStart(t, cfg, path, js, io.Discard))
	if err := js.DeleteStream(ctx, cfg.Stream); err != nil {
		t.Fatal(err)
	}

	cfg.SearchURL = down.URL
	runUntilReady(t, mustStart(t, cfg, path, js, io.Discard))
	if _, info := streamInfo(t, js, cfg.Stream); info.State.NumSubjects != 248 {
		t.Fatalf("after a start over an empty stream it holds %d movies, want the database's 248", info.State.NumSubjects)
	}
}

func TestGeneratedAdmin(t *testing.T) {
	js := testenv.JetStream(t)
	dir := t.TempDir()
	path, pwFile := filepath.Join(dir, "catalog.db"), filepath.Join(dir, "admin-password")
	if err := os.WriteFile(pwFile, []byte("stale"), 0o644); err != nil { // a leftover must not keep its mode
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.AdminPasswordFile = pwFile
	var out bytes.Buffer
	svc := mustStart(t, cfg, path, js, &out)

	m := regexp.MustCompile(`username: (\S+)\n\s+password: (\S+)\n`).FindStringSubmatch(out.String())
	if m == nil || m[1] != catalogsvc.DefaultAdmin || len(m[2]) < 20 {
		t.Fatalf("announcement = %q", out.String())
	}
	if !strings.Contains(out.String(), pwFile) {
		t.Errorf("announcement does not name the file: %q", out.String())
	}
	data, err := os.ReadFile(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(data)) != m[2] {
		t.Errorf("file holds %q, printed %q", data, m[2])
	}
	fi, err := os.Stat(pwFile)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %v, want 0600", mode)
	}
	if code := login(t, svc, "admin", m[2]); code != http.StatusOK {
		t.Errorf("login with the generated password: %d", code)
	}

	// A restart finds the admin and announces nothing.
	out.Reset()
	svc = mustStart(t, cfg, path, js, &out)
	if out.Len() != 0 {
		t.Errorf("second start printed %q", out.String())
	}
	if code := login(t, svc, "admin", m[2]); code != http.StatusOK {
		t.Errorf("login after restart: %d", code)
	}
}

func TestConfiguredAdminIsReset(t *testing.T) {
	js := testenv.JetStream(t)
	path := filepath.Join(t.TempDir(), "catalog.db")
	cfg := testConfig()
	cfg.AdminUsername, cfg.AdminPassword = "boss", "first-password-123"
	var out bytes.Buffer
	svc := mustStart(t, cfg, path, js, &out)
	if out.Len() != 0 {
		t.Errorf("configured admin announced: %q", out.String())
	}
	if code := login(t, svc, "boss", "first-password-123"); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	cfg.AdminPassword = "second-password-456"
	svc = mustStart(t, cfg, path, js, &out)
	if code := login(t, svc, "boss", "first-password-123"); code != http.StatusUnauthorized {
		t.Errorf("old password after reset: %d", code)
	}
	if code := login(t, svc, "BOSS", "second-password-456"); code != http.StatusOK {
		t.Errorf("new password after reset: %d", code)
	}
}

func TestSigningKeySurvivesRestart(t *testing.T) {
	js := testenv.JetStream(t)
	path := filepath.Join(t.TempDir(), "catalog.db")
	cfg := testConfig()
	cfg.AdminUsername, cfg.AdminPassword = "boss", "first-password-123"
	jwks := func(svc *catalogsvc.Service) string {
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/auth/jwks.json", nil))
		return rec.Body.String()
	}
	first := jwks(mustStart(t, cfg, path, js, io.Discard))
	second := jwks(mustStart(t, cfg, path, js, io.Discard))
	if first != second || !strings.Contains(first, `"kty":"OKP"`) {
		t.Errorf("JWKS changed across restarts:\n%s\n%s", first, second)
	}
}

func TestNewRejects(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	db := catalogtest.MustOpenSQLite(t)
	cfg := testConfig()
	bad := cfg
	bad.Seed = filepath.Join(t.TempDir(), "missing.json")
	if _, err := catalogsvc.New(ctx, bad, catalogsvc.Deps{DB: db, Dialect: catalogsql.SQLite, JS: js, Stdout: io.Discard}); err == nil {
		t.Error("New accepted a missing seed file")
	}
	notArray := filepath.Join(t.TempDir(), "seed.json")
	_ = os.WriteFile(notArray, []byte(`{"name":"x"}`), 0o600)
	bad.Seed = notArray
	if _, err := catalogsvc.New(ctx, bad, catalogsvc.Deps{DB: db, Dialect: catalogsql.SQLite, JS: js, Stdout: io.Discard}); err == nil || !strings.Contains(err.Error(), "record 1") {
		t.Errorf("New with a bad seed record: %v", err)
	}
	if _, err := catalogsvc.New(ctx, cfg, catalogsvc.Deps{DB: db, Dialect: "oracle", JS: js, Stdout: io.Discard}); err == nil {
		t.Error("New accepted an unknown dialect")
	}
	if _, err := catalogsvc.New(ctx, cfg, catalogsvc.Deps{DB: db, Dialect: catalogsql.SQLite, Stdout: io.Discard}); err == nil {
		t.Error("New accepted no JetStream")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*catalogsvc.Config)
		ok     bool
	}{
		{"defaults", func(*catalogsvc.Config) {}, true},
		{"admin with password", func(c *catalogsvc.Config) { c.AdminUsername, c.AdminPassword = "ada", "long-enough-pw" }, true},
		{"admin name only", func(c *catalogsvc.Config) { c.AdminUsername = "ada" }, true},
		{"password without admin", func(c *catalogsvc.Config) { c.AdminPassword = "long-enough-pw" }, false},
		{"common password", func(c *catalogsvc.Config) { c.AdminUsername, c.AdminPassword = "ada", "password1234" }, false},
		{"blank password", func(c *catalogsvc.Config) { c.AdminUsername, c.AdminPassword = "ada", "              " }, false},
		{"short password", func(c *catalogsvc.Config) { c.AdminUsername, c.AdminPassword = "ada", "short" }, false},
		{"upper-case admin", func(c *catalogsvc.Config) { c.AdminUsername = "Ada" }, false},
		{"no addr", func(c *catalogsvc.Config) { c.Addr = "" }, false},
		{"wildcard prefix", func(c *catalogsvc.Config) { c.SubjectPrefix = "catalog.>" }, false},
		{"dotted stream", func(c *catalogsvc.Config) { c.Stream = "A.B" }, false},
		{"tiny token ttl", func(c *catalogsvc.Config) { c.TokenTTL = time.Second }, false},
		{"three partitions", func(c *catalogsvc.Config) { c.StreamPartitions = 3 }, true},
		{"negative partitions", func(c *catalogsvc.Config) { c.StreamPartitions = -1 }, false},
		{"too many partitions", func(c *catalogsvc.Config) { c.StreamPartitions = 1025 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := catalogsvc.DefaultConfig()
			tt.change(&cfg)
			if err := cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestReadyWithoutNATS: a catalog whose NATS goes away stays ready, since writes still commit into the
// outbox and reach search once NATS is back; /readyz says it is degraded and how many changes wait. (It
// used to leave service, and the gateways that waited for it with it.)
func TestReadyWithoutNATS(t *testing.T) {
	ns, err := natsembed.Run(natsembed.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ns.Shutdown()
		}
	})
	nc, err := ns.Connect(nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	svc := mustStart(t, testConfig(), filepath.Join(t.TempDir(), "catalog.db"), js, io.Discard)
	runUntilReady(t, svc)
	ns.Shutdown()
	stopped = true
	ctx := context.Background()
	readyz := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(readyz().Body.String(), "NATS is disconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("readyz with NATS away and writes waiting = %s: want it to say so", readyz().Body)
		}
		if _, err := svc.Store().CreateMovie(ctx, "test", catalog.MovieInput{Title: "Written while NATS is away"}, catalog.CreateAnyway); err != nil {
			t.Fatalf("a write without NATS: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		if rec := readyz(); rec.Code != http.StatusOK {
			t.Fatalf("readyz without NATS = %d %s, want 200", rec.Code, rec.Body)
		}
	}
	if rec := readyz(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"degraded"`) || !strings.Contains(rec.Body.String(), "wait in the outbox") {
		t.Fatalf("readyz without NATS = %d %s, want 200, degraded, naming the changes waiting", rec.Code, rec.Body)
	}
}
