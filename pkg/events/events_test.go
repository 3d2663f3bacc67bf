package events_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"marquee/pkg/events"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ptr[T any](v T) *T { return &v }

func sampleUpsert() *events.MovieChanged {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	return &events.MovieChanged{
		Schema: events.SchemaVersion, Type: events.MovieUpserted, ID: 42, Version: 3, OccurredAt: at,
		Movie: &events.Movie{
			ID: 42, Title: "The Matrix", Year: ptr(1999), Directors: []string{"Lana Wachowski", "Lilly Wachowski"},
			Cast: []string{"Keanu Reeves"}, Genres: []string{"Action", "Science Fiction"},
			Overview: "A hacker learns the truth.", Tagline: "Welcome to the Real World.",
			Keywords: []string{"virtual reality", "dystopia"}, Tags: []string{"cyberpunk"},
			RuntimeMinutes: ptr(136), Rating: ptr(8.7), Votes: ptr(int64(22351)), Popularity: ptr(87.0),
			OriginalLanguage: "en", Certification: "R", PosterURL: "https://image.tmdb.org/t/p/w154/f89U3ADr1oiB1s9GkdPOEpXUk5H.jpg",
			TMDBID: ptr(int64(603)), IMDbID: ptr("tt0133093"),
			Version: 3, CreatedAt: at.Add(-time.Hour), UpdatedAt: at,
		},
	}
}

func sampleDelete() *events.MovieChanged {
	return &events.MovieChanged{Schema: 1, Type: events.MovieDeleted, ID: 42, Version: 4,
		OccurredAt: time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)}
}

// TestGolden pins the wire format: a change here is a change of the contract between the services.
func TestGolden(t *testing.T) {
	for name, e := range map[string]*events.MovieChanged{"movie_upserted": sampleUpsert(), "movie_deleted": sampleDelete()} {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(e, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Fatalf("wire format changed (run with -update if intended):\ngot  %s\nwant %s", got, want)
			}
			back, err := events.Unmarshal(want)
			if err != nil {
				t.Fatalf("golden file does not decode: %v", err)
			}
			if back.ID != e.ID || back.Version != e.Version || back.Deleted() != e.Deleted() {
				t.Fatalf("round trip: got %+v, want %+v", back, e)
			}
		})
	}
}

func TestUnmarshalRejectsBadEvents(t *testing.T) {
	for _, tc := range []struct{ name, json, want string }{
		{"not json", `{`, "decode"},
		{"future schema", `{"schema":2,"type":"movie.deleted","id":1,"version":1}`, "unsupported schema"},
		{"no id", `{"schema":1,"type":"movie.deleted","id":0,"version":1}`, "id must be positive"},
		{"no version", `{"schema":1,"type":"movie.deleted","id":1,"version":0}`, "version must be positive"},
		{"unknown type", `{"schema":1,"type":"movie.renamed","id":1,"version":1}`, "unknown type"},
		{"upsert without movie", `{"schema":1,"type":"movie.upserted","id":1,"version":1}`, "must carry the movie"},
		{"mismatched movie", `{"schema":1,"type":"movie.upserted","id":1,"version":2,"movie":{"id":1,"version":1,"title":"x"}}`, "must match"},
		{"untitled movie", `{"schema":1,"type":"movie.upserted","id":1,"version":1,"movie":{"id":1,"version":1,"title":" "}}`, "title"},
		{"delete with movie", `{"schema":1,"type":"movie.deleted","id":1,"version":1,"movie":{"id":1,"version":1,"title":"x"}}`, "must not carry"},
		// The catalog writes every name once, exactly so, in valid UTF-8: anything else is another writer's.
		{"a name twice", `{"schema":1,"type":"movie.deleted","id":1,"id":2,"version":1}`, "duplicate"},
		{"a name in other case", `{"schema":1,"type":"movie.upserted","id":1,"version":1,"movie":{"id":1,"version":1,"Title":"x"}}`, "title"},
		{"invalid UTF-8", "{\"schema\":1,\"type\":\"movie.upserted\",\"id\":1,\"version\":1,\"movie\":{\"id\":1,\"version\":1,\"title\":\"x\xff\"}}", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.Unmarshal([]byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Unmarshal(%s) error = %v, want one mentioning %q", tc.json, err, tc.want)
			}
		})
	}
}

func ExampleStream_Subject() {
	s := events.DefaultStream
	fmt.Println(s.Subject(42), s.Subjects(), events.MsgID(42, 3))
	// Output: catalog.movie.42 catalog.movie.* movie.42.v3
}

// FuzzUnmarshal feeds the indexer's decoder arbitrary bytes: it must never panic, and whatever it accepts
// must be valid and survive a round trip.
func FuzzUnmarshal(f *testing.F) {
	for _, name := range []string{"movie_upserted", "movie_deleted"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".golden.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema":1,"type":"movie.upserted","id":1,"version":1,"movie":{"id":1,"version":1,"title":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := events.Unmarshal(data)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted an invalid event: %v", err)
		}
		b, err := e.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := events.Unmarshal(b)
		if err != nil || back.ID != e.ID || back.Version != e.Version || back.Type != e.Type {
			t.Fatalf("round trip: %v, %+v vs %+v", err, back, e)
		}
	})
}

// TestOlderEventDecodes: an event written before a field was added (here certification) is still in the
// stream after the upgrade, and must still decode, with the field empty.
func TestOlderEventDecodes(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "movie_upserted.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var older []string
	for _, line := range strings.Split(string(golden), "\n") {
		if !strings.Contains(line, `"certification"`) {
			older = append(older, line)
		}
	}
	e, err := events.Unmarshal([]byte(strings.Join(older, "\n")))
	if err != nil {
		t.Fatalf("an event without certification does not decode: %v", err)
	}
	if e.Movie.Certification != "" || e.Movie.Title != "The Matrix" {
		t.Fatalf("decoded %+v", e.Movie)
	}
}

// A stream's partitions: an unpartitioned stream keeps every movie on its published subject and has one
// partition; a partitioned one keeps it under its partition, and a consumer names one of them or all.
func TestStreamPartitions(t *testing.T) {
	flat := events.Stream{Name: "S", Prefix: "s"}
	if flat.Partitioned() || flat.Partition(42) != 0 || flat.StoredSubject(42) != "s.movie.42" || flat.PartitionSubjects(events.AllPartitions) != "s.movie.*" {
		t.Errorf("unpartitioned stream: partition %d, stored at %s, filter %s", flat.Partition(42), flat.StoredSubject(42), flat.PartitionSubjects(events.AllPartitions))
	}
	if src, dst := flat.Transform(); src != "" || dst != "" {
		t.Errorf("unpartitioned stream maps %q to %q", src, dst)
	}
	three := events.Stream{Name: "S", Prefix: "s", Partitions: 3}
	seen := map[int]bool{}
	for id := int64(1); id <= 30; id++ {
		p := three.Partition(id)
		seen[p] = true
		if want := fmt.Sprintf("s.movie.%d.%d", p, id); three.StoredSubject(id) != want || three.Subject(id) != fmt.Sprintf("s.movie.%d", id) {
			t.Errorf("movie %d: stored at %s, published on %s; want %s", id, three.StoredSubject(id), three.Subject(id), want)
		}
	}
	if len(seen) != 3 {
		t.Errorf("30 movies fall in partitions %v, want all three", seen)
	}
	if three.PartitionSubjects(2) != "s.movie.2.*" || three.PartitionSubjects(events.AllPartitions) != "s.movie.*.*" {
		t.Errorf("filters %s, %s", three.PartitionSubjects(2), three.PartitionSubjects(events.AllPartitions))
	}
	if src, dst := three.Transform(); src != "s.movie.*" || dst != "s.movie.{{partition(3,1)}}.{{wildcard(1)}}" {
		t.Errorf("transform %q → %q", src, dst)
	}
	for p, ok := range map[int]bool{-2: false, -1: true, 0: true, 2: true, 3: false} {
		if three.HasPartition(p) != ok {
			t.Errorf("three partitions: HasPartition(%d) = %v", p, !ok)
		}
	}
	if flat.HasPartition(1) || !flat.HasPartition(0) {
		t.Error("an unpartitioned stream has one partition, 0")
	}
}
