// Package natsembed runs a NATS server with JetStream inside the process, for the all-in-one binary and
// for tests. Services never import it: they take a *nats.Conn and do not care where the server runs.
package natsembed

import (
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Options configure the embedded server.
type Options struct {
	StoreDir string // JetStream storage folder; required
	Listen   bool   // also listen on 127.0.0.1 on a random port (tests of split mode); otherwise in-process only
}

// Server is a running embedded NATS server.
type Server struct{ ns *server.Server }

// SyncInterval is how often the server syncs its streams to disk. An acknowledged publish is in the operating
// system's cache at once, so it survives a crash of the process; a crash of the machine may take the last
// interval's messages. Syncing every write instead (sync_interval: always, as the split stack's server does)
// made the stream the slowest stage of a bulk import, one fsync per movie: a publisher that needs its
// messages kept through a crash of the machine publishes its last interval again when it starts (the
// catalog's relay: outbox.Options.Republish).
const SyncInterval = time.Second

// Run starts the server and waits until it takes connections.
func Run(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, fmt.Errorf("natsembed: StoreDir is required")
	}
	opts := &server.Options{
		ServerName:   "marquee-embedded",
		JetStream:    true,
		StoreDir:     o.StoreDir,
		SyncInterval: SyncInterval,
		DontListen:   !o.Listen,
		Host:         "127.0.0.1",
		Port:         server.RANDOM_PORT,
		NoSigs:       true,
		NoLog:        true,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: new server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, fmt.Errorf("natsembed: server not ready within 10s")
	}
	return &Server{ns: ns}, nil
}

// Connect opens an in-process connection with the given options.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(s.ns))...)
	if err != nil {
		return nil, fmt.Errorf("natsembed: connect: %w", err)
	}
	return nc, nil
}

// ClientURL is the server's URL when it listens (Options.Listen), else "".
func (s *Server) ClientURL() string {
	if s.ns.Addr() == nil {
		return ""
	}
	return s.ns.ClientURL()
}

// Shutdown stops the server and waits for it to finish, flushing JetStream to disk.
func (s *Server) Shutdown() {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
}
