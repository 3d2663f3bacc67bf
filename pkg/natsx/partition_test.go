package natsx_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"marquee/pkg/events"
	"marquee/pkg/natsx"
	"marquee/pkg/testenv"
)

// A partitioned stream keeps each movie on the subject of the partition the server's own partition function
// picks, and events.Stream computes the same one: a movie's last change is found at its StoredSubject, and
// each partition's filter counts exactly the movies Partition assigns to it. Ids of every length are
// published, so that a hash of other bytes than the server's would put some elsewhere.
func TestPartitionsAreTheServers(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	s := events.Stream{Name: "PARTS", Prefix: "parts", Partitions: 3}
	st, err := natsx.EnsureStream(ctx, js, s, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for id := int64(1); id < 1e15; id = id*7 + 3 {
		ids = append(ids, id)
	}
	for id := int64(1000); id < 1300; id++ {
		ids = append(ids, id)
	}
	want := make([]uint64, s.Partitions)
	for _, id := range ids {
		if _, err := js.Publish(ctx, s.Subject(id), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		want[s.Partition(id)]++
	}
	for _, id := range ids {
		if _, err := st.GetLastMsgForSubject(ctx, s.StoredSubject(id)); err != nil {
			t.Fatalf("movie %d: not at %s (partition %d): %v", id, s.StoredSubject(id), s.Partition(id), err)
		}
	}
	for p, n := range want {
		if n == 0 || n == uint64(len(ids)) {
			t.Fatalf("partition %d holds %d of %d movies: the test says nothing about the hash", p, n, len(ids))
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.PartitionSubjects(p)))
		if err != nil {
			t.Fatal(err)
		}
		if got := uint64(len(info.State.Subjects)); got != n {
			t.Errorf("partition %d (%s): %d movies in the stream, Partition says %d", p, s.PartitionSubjects(p), got, n)
		}
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(s.PartitionSubjects(events.AllPartitions)))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(info.State.Subjects); got != len(ids) {
		t.Errorf("every partition's filter: %d movies, want %d", got, len(ids))
	}
}

// A stream is partitioned when it is created, or while it is empty: a new mapping applies to new messages
// only, so a stream holding movies under other subjects is refused rather than changed, and a reader
// configured otherwise than the stream is refused too.
func TestPartitionsChangeOnlyOnAnEmptyStream(t *testing.T) {
	js := testenv.JetStream(t)
	ctx := context.Background()
	flat := events.Stream{Name: "REPART", Prefix: "repart"}
	three := flat
	three.Partitions = 3
	if _, err := natsx.EnsureStream(ctx, js, flat, 0); err != nil {
		t.Fatal(err)
	}
	st, err := natsx.EnsureStream(ctx, js, three, 0)
	if err != nil {
		t.Fatalf("partitioning an empty stream: %v", err)
	}
	if tr := st.CachedInfo().Config.SubjectTransform; tr == nil || !strings.Contains(tr.Destination, "partition(3,1)") {
		t.Fatalf("the stream's transform is %+v, want three partitions", tr)
	}
	if _, err := natsx.OpenStream(ctx, js, flat); err == nil || !strings.Contains(err.Error(), "partitioned") {
		t.Errorf("a reader of an unpartitioned stream opened a partitioned one: %v", err)
	}
	if _, err := js.Publish(ctx, three.Subject(42), []byte("{}")); err != nil {
		t.Fatal(err)
	}
	four := flat
	four.Partitions = 4
	for _, s := range []events.Stream{flat, four} {
		if _, err := natsx.EnsureStream(ctx, js, s, 0); err == nil || !strings.Contains(err.Error(), "holds 1 movies") {
			t.Errorf("repartitioning a stream that holds a movie to %d: %v", s.Partitions, err)
		}
	}
	if st, err = natsx.OpenStream(ctx, js, three); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetLastMsgForSubject(ctx, three.StoredSubject(42)); err != nil {
		t.Errorf("movie 42 after the refusals: %v", err)
	}
}

// A server before 2.10 cannot map a stream's subjects: a partitioned stream is refused with the reason,
// not created as a stream that would keep every movie in one place.
func TestPartitionsNeedAServerThatMaps(t *testing.T) {
	nc, err := nats.Connect(testenv.NATSURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if v := nc.ConnectedServerVersion(); !strings.HasPrefix(v, "2.9.") && !strings.HasPrefix(v, "2.8.") {
		t.Skipf("nats-server %s maps subjects to partitions", v)
	}
	s := events.Stream{Name: "PARTS_OLD_SERVER", Prefix: "partsold", Partitions: 3}
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), s.Name) })
	for _, open := range []func() error{
		func() error { _, err := natsx.EnsureStream(context.Background(), js, s, 0); return err },
		func() error { _, err := natsx.OpenStream(context.Background(), js, s); return err },
	} {
		if err := open(); err == nil || !strings.Contains(err.Error(), "2.10") {
			t.Errorf("a partitioned stream on nats-server %s: %v", nc.ConnectedServerVersion(), err)
		}
	}
	if _, err := js.Stream(context.Background(), s.Name); err == nil {
		t.Error("the stream was created anyway")
	}
}
