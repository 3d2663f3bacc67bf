package natsx_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
)

// The movie stream is stored compressed: each message is a whole movie in JSON. EnsureStream creates it so
// and compresses a stream created before, on a server that can (2.10 and later).
func TestStreamIsCompressed(t *testing.T) {
	js := testenv.JetStream(t) // an embedded server, of the version the all-in-one runs
	ctx := context.Background()
	fresh := events.Stream{Name: "FRESH", Prefix: "fresh"}
	st, err := natsx.EnsureStream(ctx, js, fresh, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config.Compression; c != jetstream.S2Compression {
		t.Errorf("new stream stored with %v, want s2", c)
	}
	old := events.Stream{Name: "OLD", Prefix: "old"}
	cfg := natsx.StreamConfig(old)
	cfg.Compression = jetstream.NoCompression
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if st, err = natsx.EnsureStream(ctx, js, old, 0); err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config.Compression; c != jetstream.S2Compression {
		t.Errorf("a stream created uncompressed is left %v, want s2", c)
	}
}

// The movie stream answers direct gets (each movie's last message, which the reconciler reads), also when it
// was created before without them.
func TestStreamAllowsDirectGets(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	old := events.Stream{Name: "NODIRECT", Prefix: "nodirect"}
	cfg := natsx.StreamConfig(old)
	cfg.AllowDirect = false
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := natsx.EnsureStream(ctx, js, old, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !st.CachedInfo().Config.AllowDirect {
		t.Error("a stream created without direct gets is left without them")
	}
}

// The server keeps every message id of the duplicate window in memory: a stream created with a longer one
// (ten minutes, before) gets the current window at the catalog's next start.
func TestStreamDuplicateWindowIsBroughtDown(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	old := events.Stream{Name: "LONGWINDOW", Prefix: "longwindow"}
	cfg := natsx.StreamConfig(old)
	cfg.Duplicates = 10 * time.Minute
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := natsx.EnsureStream(ctx, js, old, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d := st.CachedInfo().Config.Duplicates; d != natsx.DuplicateWindow {
		t.Errorf("a stream created with a duplicate window of 10m is left at %v, want %v", d, natsx.DuplicateWindow)
	}
}

// A server older than 2.10 (Debian's 2.9) ignores the compression: it stores the stream as it is, and
// EnsureStream neither fails nor changes the stream at the next start.
func TestStreamOnAServerWithoutCompression(t *testing.T) {
	nc, err := nats.Connect(testenv.NATSURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if v := js.Conn().ConnectedServerVersion(); !strings.HasPrefix(v, "2.9.") && !strings.HasPrefix(v, "2.8.") {
		t.Skipf("nats-server %s compresses streams", v)
	}
	ctx := context.Background()
	s := events.Stream{Name: "COMPRESSION_OLD_SERVER", Prefix: "compression"}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), s.Name) })
	for range 2 {
		st, err := natsx.EnsureStream(ctx, js, s, 0)
		if err != nil {
			t.Fatal(err)
		}
		if c := st.CachedInfo().Config.Compression; c != jetstream.NoCompression {
			t.Errorf("stream stored with %v", c)
		}
	}
}
