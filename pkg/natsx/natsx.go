// Package natsx connects to NATS and declares the JetStream stream of the event contract. The settings stay
// within what nats-server 2.9 understands, so the same code runs against Debian's server and a current one.
package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
)

// DuplicateWindow is how long the server remembers message ids to drop republished events. It covers a
// relay's retries and its restart (it publishes again the ten seconds before its last publication); an event
// published again later is stored again as the same version, which the indexer skips. The server keeps every
// id of the window in memory, about 120 bytes each: a bulk import's ids stay in the heap that long.
const DuplicateWindow = 2 * time.Minute

// Connect dials url (one server, or several separated by commas) with reconnects that never give up,
// logging connection changes, as user with password (none if user is empty).
func Connect(log *slog.Logger, url, name, user, password string) (*nats.Conn, error) {
	opts := ConnOptions(log, name)
	if user != "" {
		opts = append(opts, nats.UserInfo(user, password))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats %s: %w", url, err)
	}
	return nc, nil
}

// ConnOptions are the options of every Marquee NATS connection.
func ConnOptions(log *slog.Logger, name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
	}
}

// StreamConfig is the JetStream configuration of a movie change stream: file storage, compressed (S2), the
// last message of each movie only (replaying it from the start rebuilds the catalog), and a duplicate window
// for message ids. Each message is a whole movie in JSON, which S2 halves; a server older than 2.10 ignores
// the compression and stores the stream as it is. Direct gets answer the reconciler's look-up of each
// movie's last message without the API's JSON and base64 around it (a third more movies a second). A partitioned stream maps each movie's subject to its
// partition's (events.Stream.Transform).
func StreamConfig(s events.Stream) jetstream.StreamConfig {
	var transform *jetstream.SubjectTransformConfig
	if src, dst := s.Transform(); src != "" {
		transform = &jetstream.SubjectTransformConfig{Source: src, Destination: dst}
	}
	return jetstream.StreamConfig{
		SubjectTransform:  transform,
		Name:              s.Name,
		Description:       "Marquee movie changes: the last state of every movie, one subject per movie",
		Subjects:          []string{s.Subjects()},
		Storage:           jetstream.FileStorage,
		Compression:       jetstream.S2Compression,
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		Duplicates:        DuplicateWindow,
		MaxMsgSize:        1 << 20,
		Replicas:          1,
		AllowDirect:       true,
	}
}

// OpenStream returns the stream, creating it as EnsureStream would (one replica) if it is missing, and never
// changes it: for the services that only read it (search), which the deployment's NATS users do not allow to.
// It fails when the stream is partitioned otherwise than s says: its reader would look for movies where
// they are not.
func OpenStream(ctx context.Context, js jetstream.JetStream, s events.Stream) (jetstream.Stream, error) {
	if err := partitionsServed(js.Conn(), s); err != nil {
		return nil, err
	}
	st, err := js.Stream(ctx, s.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, StreamConfig(s))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another process won the race
			st, err = js.Stream(ctx, s.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", s.Name, err)
	}
	if err := CheckPartitions(s, st.CachedInfo()); err != nil {
		return nil, fmt.Errorf("open stream %s: %w", s.Name, err)
	}
	return st, nil
}

// ErrPartitions says that a stream keeps its movies otherwise than the configuration says: its readers would
// look for them where they are not. Retrying does not help.
var ErrPartitions = errors.New("partitions not as configured")

// CheckPartitions fails with ErrPartitions when the stream described by info does not keep movies as s says.
func CheckPartitions(s events.Stream, info *jetstream.StreamInfo) error {
	have, want := info.Config.SubjectTransform, StreamConfig(s).SubjectTransform
	if sameTransform(have, want) {
		return nil
	}
	return fmt.Errorf("%w: it is %s, the configuration says %s", ErrPartitions, describePartitions(have), describePartitions(want))
}

// partitionsServed fails when s is partitioned and the server cannot map subjects to partitions in a stream
// (before 2.10).
func partitionsServed(nc *nats.Conn, s events.Stream) error {
	if s.Partitioned() && !atLeast210(nc) {
		return fmt.Errorf("stream %s: %d partitions need NATS server 2.10 or later (stream subject transforms), this one is %s (%w)", s.Name, s.Partitions, nc.ConnectedServerVersion(), ErrPartitions)
	}
	return nil
}

func sameTransform(a, b *jetstream.SubjectTransformConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// describePartitions says how a stream with the transform t keeps its movies.
func describePartitions(t *jetstream.SubjectTransformConfig) string {
	if t == nil {
		return "not partitioned"
	}
	return "partitioned by " + t.Destination
}

// MaxReplicas is the most copies of a stream JetStream keeps.
const MaxReplicas = 5

// EnsureStream creates the stream if it is missing and brings its settings in line if they drifted. replicas
// is how many copies of it a JetStream cluster keeps (a node lost loses no acknowledged event with 3); 0
// keeps what the stream has, 1 when it creates it: the catalog, which owns the stream, decides, and the
// search replicas, which only read it, pass 0.
func EnsureStream(ctx context.Context, js jetstream.JetStream, s events.Stream, replicas int) (jetstream.Stream, error) {
	if replicas < 0 || replicas > MaxReplicas {
		return nil, fmt.Errorf("ensure stream %s: %d replicas, want 0 to %d", s.Name, replicas, MaxReplicas)
	}
	if err := partitionsServed(js.Conn(), s); err != nil {
		return nil, err
	}
	cfg := StreamConfig(s)
	if replicas > 0 {
		cfg.Replicas = replicas
	}
	st, err := js.Stream(ctx, s.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another process won the race: check its
			st, err = js.Stream(ctx, s.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", s.Name, err)
	}
	have := st.CachedInfo().Config
	if err := CheckPartitions(s, st.CachedInfo()); err != nil {
		// A new transform applies to new messages only: a stream that holds movies under the old subjects
		// would keep two states of a movie, so it is rebuilt anew rather than changed.
		if n := st.CachedInfo().State.Msgs; n > 0 {
			return nil, fmt.Errorf("ensure stream %s: %w, and it holds %d movies: a stream is partitioned only when created (delete it, and the catalog's reconciler publishes every movie again)", s.Name, err, n)
		}
	}
	if replicas == 0 {
		cfg.Replicas = have.Replicas
	}
	if !atLeast210(js.Conn()) {
		cfg.Compression = have.Compression // an older server would be asked at every start, and ignore it
	}
	if have.MaxMsgsPerSubject != cfg.MaxMsgsPerSubject || have.Duplicates != cfg.Duplicates || len(have.Subjects) != 1 ||
		have.Subjects[0] != cfg.Subjects[0] || have.Replicas != cfg.Replicas || have.Compression != cfg.Compression ||
		!sameTransform(have.SubjectTransform, cfg.SubjectTransform) || have.AllowDirect != cfg.AllowDirect {
		if st, err = js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("update stream %s: %w", s.Name, err)
		}
	}
	return st, nil
}

// atLeast210 reports whether the server nc is connected to is 2.10 or later: it stores streams compressed,
// and maps a stream's subjects to partitions.
func atLeast210(nc *nats.Conn) bool {
	var major, minor int
	if _, err := fmt.Sscanf(nc.ConnectedServerVersion(), "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 2 || major == 2 && minor >= 10
}

// Drain lets nc deliver what it holds and closes it, waiting at most timeout.
func Drain(log *slog.Logger, nc *nats.Conn, timeout time.Duration) {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-closed:
	case <-time.After(timeout):
		log.Warn("nats drain timed out")
		nc.Close()
	}
}

// DeadLetterStreamConfig is the stream that keeps the messages a consumer could not read, on
// <prefix>.deadletter.movie.<id>: outside the movie stream's subjects, kept 30 days (at most 100,000).
func DeadLetterStreamConfig(s events.Stream) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        s.Name + "_DEADLETTER",
		Description: "Marquee movie events a consumer could not read, with the reason in headers",
		Subjects:    []string{s.Prefix + ".deadletter.>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      30 * 24 * time.Hour,
		MaxMsgs:     100_000,
		Discard:     jetstream.DiscardOld,
		Replicas:    1,
	}
}

// EnsureDeadLetterStream creates the dead-letter stream of s if it is missing, with replicas copies (those of
// s itself, so that losing the node that held one copy stops no consumer).
func EnsureDeadLetterStream(ctx context.Context, js jetstream.JetStream, s events.Stream, replicas int) error {
	cfg := DeadLetterStreamConfig(s)
	cfg.Replicas = max(1, replicas)
	if _, err := js.Stream(ctx, cfg.Name); err == nil {
		return nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", cfg.Name, err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s: %w", cfg.Name, err)
	}
	return nil
}
