package natsx_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/freeport"
	"marquee/pkg/natsx"
)

// TestStreamReplicasSurviveANode: with stream_replicas 3 on a three-node JetStream cluster, the stream that
// EnsureStream made with one replica is brought to three, and every acknowledged event is still there, and
// new ones are taken, after the node that led the stream is killed.
func TestStreamReplicasSurviveANode(t *testing.T) {
	nodes := startCluster(t, 3)
	nc, err := nats.Connect(nodes[0].ClientURL()+","+nodes[1].ClientURL()+","+nodes[2].ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Each call waits at most a few seconds: a request that the cluster does not answer (no leader yet) waits
	// out its context.
	call := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 5*time.Second) }
	s := events.Stream{Name: "REPLICATED", Prefix: "replicated"}
	ensure := func(replicas int) *jetstream.StreamInfo {
		t.Helper()
		var st jetstream.Stream
		var err error
		for range 10 { // a change of replicas may wait for the peers to agree
			callCtx, cancel := call()
			st, err = natsx.EnsureStream(callCtx, js, s, replicas)
			cancel()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("EnsureStream(%d replicas): %v", replicas, err)
		}
		callCtx, cancel := call()
		defer cancel()
		info, err := st.Info(callCtx)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	if info := ensure(1); info.Config.Replicas != 1 {
		t.Fatalf("created with %d replicas, want 1", info.Config.Replicas)
	}
	if info := ensure(0); info.Config.Replicas != 1 {
		t.Fatalf("0 replicas (keep) changed them to %d", info.Config.Replicas)
	}
	info := ensure(3)
	if info.Config.Replicas != 3 {
		t.Fatalf("stream_replicas 3 left it with %d", info.Config.Replicas)
	}
	if info := ensure(0); info.Config.Replicas != 3 {
		t.Fatalf("0 replicas (keep) changed them to %d", info.Config.Replicas)
	}
	waitCurrent(t, js, s.Name, 2)
	// A reader opens the stream as it is; the dead letters beside it get as many replicas.
	callCtx, cancel := call()
	opened, err := natsx.OpenStream(callCtx, js, s)
	cancel()
	if err != nil || opened.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("OpenStream: %v, want the stream's 3 replicas kept", err)
	}
	callCtx, cancel = call()
	err = natsx.EnsureDeadLetterStream(callCtx, js, s, opened.CachedInfo().Config.Replicas)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	callCtx, cancel = call()
	dead, err := js.Stream(callCtx, natsx.DeadLetterStreamConfig(s).Name)
	cancel()
	if err != nil || dead.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("dead-letter stream: %v, want 3 replicas", err)
	}

	const before = 200
	for id := range int64(before) {
		if _, err := js.Publish(ctx, s.Subject(id+1), []byte("event")); err != nil { // acknowledged by a majority
			t.Fatalf("publish %d: %v", id+1, err)
		}
	}
	callCtx, cancel = call()
	st, err := js.Stream(callCtx, s.Name)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	leader := st.CachedInfo().Cluster.Leader
	killed := false
	for _, n := range nodes {
		if n.Name() == leader {
			n.Shutdown()
			n.WaitForShutdown()
			killed = true
		}
	}
	if !killed {
		t.Fatalf("no node is the stream's leader %q", leader)
	}
	// A new leader is elected among the two left; every acknowledged event is there, and new ones are taken.
	var got uint64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the leader %s was killed the stream holds %d events, want %d", leader, got, before)
		}
		callCtx, cancel := call()
		st, err := js.Stream(callCtx, s.Name)
		cancel()
		if err != nil || st.CachedInfo().Cluster == nil || st.CachedInfo().Cluster.Leader == "" || st.CachedInfo().Cluster.Leader == leader {
			continue
		}
		if got = st.CachedInfo().State.Msgs; got == before {
			break
		}
	}
	for id := range int64(10) {
		var err error
		for range 50 {
			callCtx, cancel := call()
			_, err = js.Publish(callCtx, s.Subject(before+id+1), []byte("event"))
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("publish after the node was lost: %v", err)
		}
	}
	callCtx, cancel = call()
	defer cancel()
	if st, err = js.Stream(callCtx, s.Name); err != nil {
		t.Fatalf("stream after the node was lost: %v", err)
	}
	if n := st.CachedInfo().State.Msgs; n != before+10 {
		t.Fatalf("stream after the node was lost: %d events, want %d", n, before+10)
	}
}

// waitCurrent waits until the stream's leader has n peers that are current.
func waitCurrent(t *testing.T, js jetstream.JetStream, name string, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, name)
		cancel()
		if err != nil || st.CachedInfo().Cluster == nil {
			continue
		}
		current := 0
		for _, p := range st.CachedInfo().Cluster.Replicas {
			if p.Current {
				current++
			}
		}
		if current == n {
			return
		}
	}
	t.Fatalf("stream %s: its replicas did not become current", name)
}

// startCluster runs n JetStream servers in the process, routed to each other on loopback ports.
func startCluster(t *testing.T, n int) []*server.Server {
	t.Helper()
	ports, err := freeport.Ports(n)
	if err != nil {
		t.Fatal(err)
	}
	var routes []*url.URL
	for _, p := range ports {
		routes = append(routes, &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))})
	}
	nodes := make([]*server.Server, n)
	for i := range nodes {
		ns, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("node-%d", i),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "marquee-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
			NoSigs:     true,
			NoLog:      true,
		})
		if err != nil {
			t.Fatal(err)
		}
		ns.Start()
		nodes[i] = ns
		t.Cleanup(func() {
			ns.Shutdown()
			ns.WaitForShutdown()
		})
	}
	for _, ns := range nodes {
		if !ns.ReadyForConnections(10 * time.Second) {
			t.Fatal("a node did not start")
		}
	}
	// JetStream answers once the nodes have elected the leader of its metadata.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		for _, ns := range nodes {
			if ns.JetStreamIsLeader() {
				return nodes
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the cluster elected no JetStream leader")
		}
	}
}
