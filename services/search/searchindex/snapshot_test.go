package searchindex_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// A replica opened from a peer's snapshot holds what the peer holds: the same checkpoint, movies,
// versions, tombstones and answers, in one shard or several.
func TestSnapshotOpensAsThePeer(t *testing.T) {
	ctx := context.Background()
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d shards", shards), func(t *testing.T) {
			dir := t.TempDir()
			peer := mustOpenShards(t, filepath.Join(dir, "peer"), shards)
			defer mustClose(t, peer)
			var changes []searchindex.Change
			for id := int64(1); id <= 40; id++ {
				changes = append(changes, upsert(id, 1, fmt.Sprintf("Movie %d of the snapshot", id)))
			}
			changes = append(changes, upsert(7, 3, "Heat"), del(8, 2))
			if _, err := peer.Apply(ctx, changes, 42); err != nil {
				t.Fatal(err)
			}
			var tarball bytes.Buffer
			sent, err := peer.WriteSnapshot(ctx, &tarball, dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := searchindex.ReadSnapshot(bytes.NewReader(tarball.Bytes()), filepath.Join(dir, "replica"), shards, "")
			if err != nil {
				t.Fatal(err)
			}
			if got != sent || got.Checkpoint != 42 || got.Movies != 39 || got.Shards != shards || got.Bytes == 0 {
				t.Fatalf("manifest read %+v, sent %+v; want checkpoint 42, 39 movies", got, sent)
			}
			replica := mustOpenShards(t, filepath.Join(dir, "replica"), shards)
			defer mustClose(t, replica)
			if cp := mustCheckpoint(t, replica); cp != 42 {
				t.Errorf("replica checkpoint %d, want 42", cp)
			}
			for _, id := range []int64{1, 7, 8, 40} {
				pv, pd, _ := peer.Version(id)
				rv, rd, err := replica.Version(id)
				if err != nil || rv != pv || rd != pd {
					t.Errorf("movie %d: replica version %d deleted %v (%v), peer %d %v", id, rv, rd, err, pv, pd)
				}
			}
			for _, q := range []search.Query{{Text: "heat"}, {Text: "movie snapshot", PerPage: 50}, {Text: "moive"}, {}} {
				want, err := peer.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				have, err := replica.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if have.Total != want.Total || !reflect.DeepEqual(hitIDs(have), hitIDs(want)) {
					t.Errorf("%q: replica %d %v, peer %d %v", q.Text, have.Total, hitIDs(have), want.Total, hitIDs(want))
				}
			}
			// The replica goes on from its checkpoint like any index.
			if _, err := replica.Apply(ctx, []searchindex.Change{upsert(41, 1, "After the snapshot")}, 43); err != nil {
				t.Fatal(err)
			}
			if res, err := replica.Search(ctx, search.Query{Text: "after"}); err != nil || res.Total != 1 {
				t.Errorf("after the snapshot: %+v, %v", res, err)
			}
		})
	}
}

// A snapshot taken while batches are applied holds exactly the batches up to its checkpoint in every
// shard: a replica that resumes after it neither misses nor lacks a movie.
func TestSnapshotDuringWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	peer := mustOpenShards(t, filepath.Join(dir, "peer"), 3)
	defer mustClose(t, peer)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for seq := uint64(1); ; seq++ {
			select {
			case <-stop:
				return
			default:
			}
			id := int64(seq)
			if _, err := peer.Apply(ctx, []searchindex.Change{upsert(id, 1, fmt.Sprintf("Movie %d", id))}, seq); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range 5 {
		var tarball bytes.Buffer
		m, err := peer.WriteSnapshot(ctx, &tarball, dir)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, fmt.Sprintf("replica-%d", i))
		if _, err := searchindex.ReadSnapshot(&tarball, to, 3, ""); err != nil {
			t.Fatal(err)
		}
		replica := mustOpenShards(t, to, 3)
		n, err := replica.DocCount()
		if err != nil {
			t.Fatal(err)
		}
		if cp := mustCheckpoint(t, replica); cp != m.Checkpoint || n != m.Checkpoint || m.Movies != n {
			t.Errorf("snapshot %d: checkpoint %d (manifest %d), %d movies (manifest %d): want one movie a sequence", i, cp, m.Checkpoint, n, m.Movies)
		}
		mustClose(t, replica)
	}
	close(stop)
	wg.Wait()
}

// A replica refuses a snapshot it could not serve or that would write outside its folder, and leaves
// nothing behind.
func TestSnapshotRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	peer := mustOpenShards(t, filepath.Join(dir, "peer"), 1)
	defer mustClose(t, peer)
	if _, err := peer.Apply(ctx, []searchindex.Change{upsert(1, 1, "Alien")}, 1); err != nil {
		t.Fatal(err)
	}
	var good bytes.Buffer
	m, err := peer.WriteSnapshot(ctx, &good, dir)
	if err != nil {
		t.Fatal(err)
	}
	withManifest := func(edit func(*searchindex.SnapshotManifest), extra ...*tar.Header) []byte {
		mm := m
		edit(&mm)
		b, _ := json.Marshal(mm)
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		_ = tw.WriteHeader(&tar.Header{Name: "snapshot.json", Mode: 0o644, Size: int64(len(b))})
		_, _ = tw.Write(b)
		for _, h := range extra {
			_ = tw.WriteHeader(h)
			_, _ = tw.Write(make([]byte, h.Size))
		}
		_ = tw.Close()
		return out.Bytes()
	}
	cases := map[string]struct {
		tarball []byte
		shards  int
		want    string
	}{
		"another split":           {good.Bytes(), 2, "shards"},
		"another partition":       {withManifest(func(m *searchindex.SnapshotManifest) { m.Contents = "partition 1 of 3" }), 1, "holds partition 1 of 3"},
		"another mapping version": {withManifest(func(m *searchindex.SnapshotManifest) { m.MappingVersion = "0" }), 1, "mapping version"},
		"a path outside":          {withManifest(func(m *searchindex.SnapshotManifest) { m.Bytes = 1 }, &tar.Header{Name: "../evil", Size: 1, Mode: 0o644}), 1, "plain relative path"},
		"an absolute path":        {withManifest(func(m *searchindex.SnapshotManifest) { m.Bytes = 1 }, &tar.Header{Name: "/tmp/evil", Size: 1, Mode: 0o644}), 1, "plain relative path"},
		"a symlink":               {withManifest(func(*searchindex.SnapshotManifest) {}, &tar.Header{Name: "store/x", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}), 1, "not a regular file"},
		"a file of no index":      {withManifest(func(m *searchindex.SnapshotManifest) { m.Bytes = 1 }, &tar.Header{Name: "notes.txt", Size: 1, Mode: 0o644}), 1, "not a file of an index"},
		"files missing":           {withManifest(func(*searchindex.SnapshotManifest) {}), 1, "its manifest says"},
		"cut short":               {good.Bytes()[:good.Len()/2], 1, "unexpected EOF"},
		"no manifest":             {nil, 1, "no manifest"},
	}
	for name, c := range cases {
		to := filepath.Join(dir, "replica")
		_, err := searchindex.ReadSnapshot(bytes.NewReader(c.tarball), to, c.shards, "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
		if _, serr := os.Stat(to); !errors.Is(serr, fs.ErrNotExist) {
			t.Errorf("%s: %s left behind (%v)", name, to, serr)
		}
	}
}
