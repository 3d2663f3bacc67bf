// Package testenv hands tests the servers and data they use: an embedded JetStream, the shared data sets,
// and the external MariaDB/MySQL (MARQUEE_TEST_MYSQL_DSN) and NATS (MARQUEE_TEST_NATS_URL). Without an
// external one, a test skips and says how to run it; under CI (CI=true) it fails instead, so that CI can
// never pass by silently skipping what it must run. It also runs the background loops of a test (Run), waits
// for what they do (Eventually), and gives a test a stream of its own (Stream).
package testenv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/natsx/natsembed"
)

// The variables that name the external servers.
const (
	MySQLDSNEnv = "MARQUEE_TEST_MYSQL_DSN"
	NATSURLEnv  = "MARQUEE_TEST_NATS_URL"
)

// MySQLDSN returns the DSN of the test MariaDB/MySQL server.
func MySQLDSN(tb testing.TB) string {
	tb.Helper()
	return need(tb, MySQLDSNEnv, "root@tcp(127.0.0.1:3306)/test")
}

// NATSURL returns the URL of the test NATS server (with JetStream).
func NATSURL(tb testing.TB) string {
	tb.Helper()
	return need(tb, NATSURLEnv, "nats://127.0.0.1:4222")
}

func need(tb testing.TB, env, example string) string {
	tb.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	msg := env + " not set: " + tb.Name() + " needs it (e.g. " + env + "='" + example + "')"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI must run it")
	}
	tb.Skip(msg + "; skipped")
	return ""
}

// SharedDataEnv names a folder that holds the shared data sets, overriding the search for ../shared/data.
const SharedDataEnv = "MARQUEE_SHARED_DATA"

// SharedData returns the path of a file of the shared data sets (the TMDB-like catalog, the relevance
// judgments), found in $MARQUEE_SHARED_DATA or in shared/data beside one of the working directory's parent
// folders (the repository sits beside shared/). They are not part of the repository.
func SharedData(tb testing.TB, name string) string {
	tb.Helper()
	if dir := os.Getenv(SharedDataEnv); dir != "" {
		return filepath.Join(dir, name)
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for ; ; dir = filepath.Dir(dir) {
		p := filepath.Join(dir, "shared", "data", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	msg := "shared data " + name + " not found beside the repository (../shared/data) nor in $" + SharedDataEnv
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + "; CI must have it")
	}
	tb.Skip(msg + "; skipped")
	return ""
}

// JetStream starts an embedded NATS server with JetStream in a temporary folder and returns a client on it;
// both stop when the test ends.
func JetStream(tb testing.TB) jetstream.JetStream {
	tb.Helper()
	srv, err := natsembed.Run(natsembed.Options{StoreDir: tb.TempDir()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	nc, err := srv.Connect()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}
