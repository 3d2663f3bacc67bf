package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"marquee/pkg/testenv"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
)

// asMarquee is the environment variable that makes the test binary run as marquee (TestMain), so that a
// test can run the server in a process of its own and kill it -9.
const asMarquee = "MARQUEE_TEST_AS_MARQUEE"

func TestMain(m *testing.M) {
	if os.Getenv(asMarquee) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// process is marquee running in a child process.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	started        time.Time
	exited         chan struct{} // closed when the process has ended
}

// startProcess runs `marquee args…` in a child process with only env (and PATH) for its environment; the
// process is killed when the test ends.
func startProcess(t *testing.T, env map[string]string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(os.Args[0], args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = []string{asMarquee + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(p.kill)
	return p
}

// kill stops the process as a crash or a dyno restart would: SIGKILL, no shutdown of any kind.
func (p *process) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// serving waits for the all-in-one in p to listen and be ready, and returns a client of it, how long after
// its start it was ready, and what /readyz said while it was not (the detail of each answer, in order).
func (p *process) serving(t *testing.T, timeout time.Duration) (*client, time.Duration, []string) {
	t.Helper()
	c := &client{t: t, base: addrOf(t, p.stdout, "serving on")}
	var said []string
	waitFor(t, "readiness", timeout, func() error {
		select {
		case <-p.exited:
			t.Fatalf("marquee exited: %v\n%s", p.cmd.ProcessState, p.stderr)
		default:
		}
		r := c.do("GET", "/readyz", nil, nil)
		if r.status == 200 {
			return nil
		}
		var problem struct{ Detail string }
		r.json(t, &problem)
		if len(said) == 0 || said[len(said)-1] != problem.Detail {
			said = append(said, problem.Detail)
		}
		return fmt.Errorf("readyz %d: %s", r.status, problem.Detail)
	})
	return c, time.Since(p.started), said
}

// progressed reports whether /readyz said, on its way to ready, that the catalog was republishing its
// movies, counting up towards all of them.
func progressed(said []string, movies int) error {
	rebuilding := regexp.MustCompile(fmt.Sprintf(`^The catalog service is not ready: Rebuilding the search index from the database: (\d+) of %d movies`, movies))
	counts := map[string]bool{}
	for _, s := range said {
		if m := rebuilding.FindStringSubmatch(s); m != nil {
			counts[m[1]] = true
		}
	}
	if len(counts) < 2 {
		return fmt.Errorf("readyz did not report the rebuild's progress; it said:\n%s", strings.Join(said, "\n"))
	}
	return nil
}

// loseDisk is a dyno restart a day after the last write: the process killed -9, its data folder gone.
func loseDisk(t *testing.T, p *process, disk, dsn string) {
	t.Helper()
	p.kill()
	if err := os.RemoveAll(disk); err != nil {
		t.Fatal(err)
	}
	aDayLater(t, dsn)
}

// aDayLater makes the catalog database of dsn look as it would a day after the events were published: a
// machine that starts then finds nothing recent for its relay to publish again (its window covers the
// last seconds before a crash), so the start's catch-up alone must bring the stream back.
func aDayLater(t *testing.T, dsn string) {
	t.Helper()
	db, err := catalogsql.Open(context.Background(), catalogsql.MySQL, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE outbox SET published_at = ? WHERE published_at IS NOT NULL`, time.Now().UTC().Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
}

// addonURL is the mysql:// URL a MySQL add-on would hand out for the database of dsn.
func addonURL(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "mysql", Host: cfg.Addr, Path: "/" + cfg.DBName, User: url.User(cfg.User)}
	if cfg.Passwd != "" {
		u.User = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return u.String()
}

// openDSN opens the MySQL database of dsn for the test's own statements, closed when the test ends.
func openDSN(t *testing.T, dsn string) (*mysql.Config, *sql.DB) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db, err := catalogsql.Open(context.Background(), catalogsql.MySQL, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return cfg, db
}

// addonUser creates a user of the database of dsn with a password an add-on's URL must percent-encode, and
// returns that user's DSN and password.
func addonUser(t *testing.T, dsn string) (string, string) {
	t.Helper()
	cfg, db := openDSN(t, dsn)
	const pw = "p@ss:w/rd%?#&=+ Zz9"
	user := "mq_addon_" + cfg.DBName[len(cfg.DBName)-8:]
	for _, q := range []string{"CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + pw + "'", "GRANT ALL ON `" + cfg.DBName + "`.* TO '" + user + "'@'%'"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP USER '" + user + "'@'%'") }) // before openDSN's close: cleanups run last first
	cfg.User, cfg.Passwd = user, pw
	return cfg.FormatDSN(), pw
}

// TestDynoRestart is a Heroku dyno's day: the all-in-one keeps its catalog in MySQL (found, as on Heroku,
// in an add-on's variable), admins edit it, the process is killed -9 and its disk is gone; a new process
// on an empty folder has every edit back, searchable, with its users, keys and tokens, and no second seed.
func TestDynoRestart(t *testing.T) {
	dsn := catalogtest.MustMySQLDSN(t)
	seed, err := filepath.Abs("../../data/imdb.json")
	if err != nil {
		t.Fatal(err)
	}
	// As an add-on's: a user of its own, whose password the URL percent-encodes.
	addonDSN, addonPassword := addonUser(t, dsn)
	env := map[string]string{"JAWSDB_URL": addonURL(t, addonDSN), "MARQUEE_ADMIN_USERNAME": "root",
		"MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_RATE_LIMIT": "off"}
	disk := t.TempDir()
	first := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", disk, "--seed", seed)
	c, _, _ := first.serving(t, 90*time.Second)
	if total := c.search("per_page=1").Total; total != 248 {
		t.Fatalf("seeded %d movies, want 248", total)
	}

	c.login("root", "correct horse battery staple")
	var created, godfather, pulp hit
	c.must(201, "POST", "/v1/movies", map[string]any{"title": "Quokka Parliament at Midnight", "year": 2029,
		"genres": []string{"Comedy"}, "overview": "Marsupials hold a vote."}, nil).json(t, &created)
	godfather = c.search("q=" + url.QueryEscape("the godfather") + "&per_page=1").Hits[0]
	c.must(200, "PATCH", fmt.Sprintf("/v1/movies/%d", godfather.ID), map[string]any{"title": "The Godfather Restored"},
		map[string]string{"If-Match": fmt.Sprintf(`"%d"`, godfather.Version), "Content-Type": "application/merge-patch+json"})
	pulp = c.search("q=" + url.QueryEscape("pulp fiction") + "&per_page=1").Hits[0]
	if pulp.Title != "Pulp Fiction" {
		t.Fatalf("pulp fiction: %+v", pulp)
	}
	c.must(204, "DELETE", fmt.Sprintf("/v1/movies/%d", pulp.ID), nil, nil)
	c.must(201, "POST", "/v1/users", map[string]string{"username": "reader", "password": "reading all day long", "role": "user"}, nil)
	var apiKey struct {
		Key string `json:"key"`
	}
	c.must(201, "POST", "/v1/keys", map[string]string{"name": "robot", "role": "admin"}, nil).json(t, &apiKey)
	tokenBefore := c.token

	// The dyno restarts: no shutdown, and the disk (SQLite-free data folder: stream, index) is gone.
	loseDisk(t, first, disk, dsn)
	second := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", disk, "--seed", seed)
	c2, ready, _ := second.serving(t, 90*time.Second)
	t.Logf("ready %.1fs after a start on an empty data folder", ready.Seconds())

	if total := c2.search("per_page=1").Total; total != 248 {
		t.Fatalf("after the restart: %d movies, want 248 (248 seeded + 1 created - 1 deleted, seed loaded once)", total)
	}
	c2.waitSearch("the created movie, misspelled", "q="+url.QueryEscape("quoka parliment"), firstHit("Quokka Parliament at Midnight", 1))
	c2.waitSearch("the updated movie", "q="+url.QueryEscape("godfather restored"), firstHit("The Godfather Restored", godfather.Version+1))
	c2.must(404, "GET", fmt.Sprintf("/v1/movies/%d", pulp.ID), nil, nil)
	if res := c2.search("q=" + url.QueryEscape("pulp fiction")); len(res.Hits) > 0 && res.Hits[0].Title == "Pulp Fiction" {
		t.Fatalf("the deleted movie is back: %+v", res.Hits[0])
	}
	if res := c2.search("q=" + url.QueryEscape("fight club")); countTitle(res, "Fight Club") != 1 {
		t.Fatalf("the seed was loaded twice: %+v", res.Hits)
	}
	if strings.Contains(second.stdout.String(), "password") {
		t.Fatalf("the second start announced an admin password again:\n%s", second.stdout)
	}
	for _, p := range []*process{first, second} {
		// As typed, and as the add-on's URL writes it.
		encoded := strings.TrimPrefix(url.UserPassword("u", addonPassword).String(), "u:")
		if out := p.stdout.String() + p.stderr.String(); strings.Contains(out, addonPassword) || strings.Contains(out, encoded) || strings.Contains(out, env["JAWSDB_URL"]) {
			t.Fatalf("the database password is in the output:\n%s", out)
		}
	}

	// Who could sign in before still can, with what they held.
	(&client{t: t, base: c2.base, token: tokenBefore}).must(200, "GET", "/v1/users", nil, nil)
	(&client{t: t, base: c2.base, token: apiKey.Key}).must(200, "GET", "/v1/users", nil, nil)
	reader := &client{t: t, base: c2.base}
	reader.login("reader", "reading all day long")
	reader.must(403, "POST", "/v1/movies", map[string]any{"title": "Not allowed"}, nil)
}

// TestOneAllInOnePerDatabase: a second all-in-one on the same MySQL database (a second web dyno, a deploy
// that starts the new before the old has stopped) waits, saying why, instead of relaying a share of the
// catalog's changes into a stream of its own; it takes over once the first is gone, killed -9 included, and
// has the first one's edits.
func TestOneAllInOnePerDatabase(t *testing.T) {
	dsn := catalogtest.MustMySQLDSN(t)
	env := map[string]string{"MARQUEE_MYSQL_DSN": addonURL(t, dsn), "MARQUEE_ADMIN_USERNAME": "root",
		"MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_RATE_LIMIT": "off"}
	first := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--seed", "")
	c, _, _ := first.serving(t, 90*time.Second)
	c.login("root", "correct horse battery staple")
	c.must(201, "POST", "/v1/movies", map[string]any{"title": "Quokka Parliament at Midnight", "year": 2029, "genres": []string{"Comedy"}}, nil)

	second := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--seed", "")
	waitFor(t, "the second to say it waits", 30*time.Second, func() error {
		if !strings.Contains(second.stderr.String(), "another marquee serve runs on this catalog database") {
			return fmt.Errorf("it said:\n%s", second.stderr)
		}
		return nil
	})
	if strings.Contains(second.stdout.String(), "serving on") {
		t.Fatalf("the second all-in-one serves beside the first:\n%s", second.stdout)
	}
	// The first goes on taking writes meanwhile, and the second goes on waiting.
	c.must(201, "POST", "/v1/movies", map[string]any{"title": "Wombat Senate by Daylight", "year": 2030, "genres": []string{"Drama"}}, nil)
	time.Sleep(2 * lockCheckEvery)
	if strings.Contains(second.stdout.String(), "serving on") {
		t.Fatalf("the second all-in-one serves beside the first:\n%s", second.stdout)
	}

	first.kill()
	c2, _, _ := second.serving(t, 90*time.Second)
	c2.waitSearch("the first one's edit", "q="+url.QueryEscape("wombat senate"), firstHit("Wombat Senate by Daylight", 1))
	// The edit may reach the new stream first, from the outbox row the first left unpublished, and the movies
	// the start republishes later: the second finds both in time, and never a third. A movie published before
	// the relay's republish window comes from the start's catch-up, which retries with waits that double up to
	// 30 s; in two CI runs on a loaded machine the second had not found both after 15 s.
	c2.waitSearchFor(60*time.Second, "both of the first one's movies", "per_page=1", func(r searchResult) error {
		if r.Total != 2 {
			return fmt.Errorf("the second all-in-one finds %d movies, want the 2 the first created", r.Total)
		}
		return nil
	})
}

// TestLostLockStops: an all-in-one whose lock's connection ends (a network blip, a failover, KILL) stops
// with an error instead of going on beside another that may have taken the lock meanwhile; the platform
// restarts it, and the restart takes the lock again.
func TestLostLockStops(t *testing.T) {
	dsn := catalogtest.MustMySQLDSN(t)
	env := map[string]string{"MARQUEE_MYSQL_DSN": addonURL(t, dsn), "MARQUEE_ADMIN_USERNAME": "root",
		"MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_RATE_LIMIT": "off"}
	p := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--seed", "")
	p.serving(t, 90*time.Second)

	cfg, db := openDSN(t, dsn)
	var holder int64
	if err := db.QueryRow("SELECT IS_USED_LOCK(?)", serveLockName(cfg.DBName)).Scan(&holder); err != nil {
		t.Fatalf("the all-in-one holds no lock on its database: %v", err)
	}
	if _, err := db.Exec(fmt.Sprintf("KILL %d", holder)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(6 * lockCheckEvery):
		t.Fatalf("the all-in-one runs on %s after losing its lock", 6*lockCheckEvery)
	}
	if p.cmd.ProcessState.Success() || !strings.Contains(p.stderr.String(), "lost the catalog database's lock") {
		t.Fatalf("after losing its lock: %v\n%s", p.cmd.ProcessState, p.stderr)
	}
}

// TestDynoRestartTMDB restarts the all-in-one on an empty folder over a MySQL catalog of 15,410 movies and
// reports how long it takes to be ready again (the README's Heroku section quotes it).
func TestDynoRestartTMDB(t *testing.T) {
	if raceEnabled {
		t.Skip("TestDynoRestartTMDB skipped under -race; make norace runs it without")
	}
	catalog := testenv.SharedData(t, "movies.jsonl.gz")
	dsn := catalogtest.MustMySQLDSN(t)
	env := map[string]string{"MARQUEE_MYSQL_DSN": addonURL(t, dsn), "MARQUEE_ADMIN_USERNAME": "root",
		"MARQUEE_ADMIN_PASSWORD": "correct horse battery staple", "MARQUEE_RATE_LIMIT": "off"}
	disk := t.TempDir()
	first := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", disk, "--seed", catalog)
	c, seeded, _ := first.serving(t, 5*time.Minute)
	if total := c.search("per_page=1").Total; total != 15410 {
		t.Fatalf("seeded %d movies, want 15410", total)
	}
	loseDisk(t, first, disk, dsn)
	// The page, opened while the new process rebuilds, says so with the progress, and stops saying it once
	// the process is ready. Chromium starts first: the rebuild takes seconds.
	var b *browser
	if _, err := os.Stat(chromiumPath); err == nil {
		b = newBrowser(t, "")
	} else if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing: CI must install Debian's chromium", chromiumPath)
	}
	second := startProcess(t, env, "serve", "--addr", "127.0.0.1:0", "--data-dir", disk, "--seed", catalog)
	if b != nil {
		b.base = addrOf(t, second.stdout, "serving on")
		b.open("/")
		b.waitJS("the page to say the index is rebuilding", `/^Rebuilding the search index: [\d,]+ of 15,410 movies/.test(document.getElementById('readiness').textContent) && !document.getElementById('readiness').hidden`)
	}
	c2, ready, said := second.serving(t, 5*time.Minute)
	if err := progressed(said, 15410); err != nil {
		t.Error(err)
	}
	if b != nil {
		b.waitJS("the notice to go and the whole catalog to show once ready", `document.getElementById('readiness').hidden && `+
			settled+` && Number(document.getElementById('status').dataset.total) === 15410`)
		b.checkConsole()
	}
	if total := c2.search("per_page=1").Total; total != 15410 {
		t.Fatalf("after the restart: %d movies, want 15410", total)
	}
	if res := c2.search("q=" + url.QueryEscape("the matrx") + "&per_page=1"); len(res.Hits) == 0 || res.Hits[0].Title != "The Matrix" {
		t.Fatalf("typo search after the restart: %+v", res.Hits)
	}
	t.Logf("15,410 movies in MySQL: first start (seeding) ready after %.1fs; after the disk was lost, ready after %.1fs", seeded.Seconds(), ready.Seconds())
}
