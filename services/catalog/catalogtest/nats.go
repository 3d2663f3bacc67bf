package catalogtest

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/natsx/natsembed"
)

// MustJetStream starts an embedded NATS server with JetStream in a temporary folder and returns a client
// on it; both stop when the test ends.
func MustJetStream(tb testing.TB) jetstream.JetStream {
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
