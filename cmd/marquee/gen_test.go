package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
)

// fixture writes a small, made-up catalog in the TMDB-like format and returns its path.
func fixture(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	genres := [][]string{{"Drama"}, {"Comedy", "Romance"}, {"Action", "Thriller"}, {"Drama", "History"}, {}}
	for i := range 50 {
		rec := map[string]any{
			"id": i + 1, "title": fmt.Sprintf("The Quiet %s Number %d", []string{"River", "Hill", "Night"}[i%3], i),
			"overview": "A \"careful\" clerk finds a map\tand follows it to the sea, where nobody waits.",
			"genres":   genres[i%len(genres)], "year": 1950 + i, "runtime": 80 + i, "vote_average": 5 + float64(i%5)/2,
			"vote_count": 10 * i, "popularity": float64(i) / 3, "original_language": "en",
			"director": fmt.Sprintf("Ann Director%d", i%4), "cast": []string{"Bo Actor", fmt.Sprintf("Cy Player%d", i%7)},
			"keywords": []string{"sea", "map"}, "tags": []string{"slow"},
		}
		line, _ := json.Marshal(rec)
		b.Write(append(line, '\n'))
	}
	path := filepath.Join(t.TempDir(), "fixture.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func generated(t *testing.T, from string, seed int64, count int) []byte {
	t.Helper()
	m, err := learnCatalog(from)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := m.generate(&out, seed, 10_000_000, count, nil); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestGenDeterministic(t *testing.T) {
	from := fixture(t)
	a, b := generated(t, from, 7, 5000), generated(t, from, 7, 5000)
	if !bytes.Equal(a, b) {
		t.Fatal("the same seed gave different output")
	}
	if bytes.Equal(a, generated(t, from, 8, 5000)) {
		t.Fatal("different seeds gave the same output")
	}
	// The output is Marquee's write body, one movie a line, with unique tmdb_ids from 10,000,000 on.
	n := 0
	err := ingest.Read(bytes.NewReader(a), func(r ingest.Record) error {
		if r.Err != nil || r.Format != ingest.Native {
			return fmt.Errorf("record %d: format %s: %v", r.Index, r.Format, r.Err)
		}
		if r.Movie.TMDBID == nil || *r.Movie.TMDBID != int64(10_000_000+n) || r.Movie.Title == "" {
			return fmt.Errorf("record %d: tmdb_id %v title %q", r.Index, r.Movie.TMDBID, r.Movie.Title)
		}
		var std map[string]any // the hand-written encoder writes valid JSON
		if err := json.Unmarshal(r.Source, &std); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil || n != 5000 {
		t.Fatalf("read %d movies back: %v", n, err)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\x01", "Amélie – “smart”", "bad \xff byte"} {
		want, _ := json.Marshal(s)
		var got, back string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		_ = json.Unmarshal(want, &back)
		if got != back {
			t.Errorf("%q: decoded %q, encoding/json gives %q", s, got, back)
		}
	}
}

// TestGenFollowsSource checks that the generated catalog's distributions are within tolerance of the real one.
func TestGenFollowsSource(t *testing.T) {
	realCatalog := testenv.SharedData(t, "movies.jsonl.gz") // the catalog the generator learns from in real use
	type stats struct {
		n                                   int
		genre                               map[string]int
		titleWords, overviewWords, castLens []int
		years, votes                        []int
		ratings                             []float64
		withOverview, withCast, withRating  int
	}
	collect := func(read func(func(ingest.Record) error) error) stats {
		s := stats{genre: map[string]int{}}
		if err := read(func(r ingest.Record) error {
			if r.Err != nil {
				return nil
			}
			m := r.Movie
			s.n++
			for _, g := range m.Genres {
				s.genre[g]++
			}
			s.titleWords = append(s.titleWords, len(strings.Fields(m.Title)))
			if m.Overview != "" {
				s.withOverview++
				s.overviewWords = append(s.overviewWords, len(strings.Fields(m.Overview)))
			}
			if len(m.Cast) > 0 {
				s.withCast++
				s.castLens = append(s.castLens, len(m.Cast))
			}
			if m.Year != nil {
				s.years = append(s.years, *m.Year)
			}
			if m.Rating != nil {
				s.withRating++
				s.ratings = append(s.ratings, *m.Rating)
			}
			if m.Votes != nil {
				s.votes = append(s.votes, int(*m.Votes))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return s
	}
	src := collect(func(fn func(ingest.Record) error) error { return ingest.ReadFile(realCatalog, fn) })
	out := generated(t, realCatalog, 1, 50_000)
	gen := collect(func(fn func(ingest.Record) error) error { return ingest.Read(bytes.NewReader(out), fn) })

	share := func(s stats, c int) float64 { return 100 * float64(c) / float64(s.n) }
	for g, c := range src.genre {
		if d := math.Abs(share(src, c) - share(gen, gen.genre[g])); d > 2 {
			t.Errorf("genre %s: %.1f%% of source movies, %.1f%% generated", g, share(src, c), share(gen, gen.genre[g]))
		}
	}
	for _, f := range []struct {
		name     string
		src, gen int
	}{{"overview", src.withOverview, gen.withOverview}, {"cast", src.withCast, gen.withCast}, {"rating", src.withRating, gen.withRating}} {
		if d := math.Abs(share(src, f.src) - share(gen, f.gen)); d > 2 {
			t.Errorf("movies with %s: %.1f%% of source, %.1f%% generated", f.name, share(src, f.src), share(gen, f.gen))
		}
	}
	medians := []struct {
		name     string
		src, gen float64
		tol      float64
	}{
		{"title words", median(src.titleWords), median(gen.titleWords), 0},
		{"overview words", median(src.overviewWords), median(gen.overviewWords), 3},
		{"cast size", median(src.castLens), median(gen.castLens), 0},
		{"year", median(src.years), median(gen.years), 1},
		{"votes", median(src.votes), median(gen.votes), 0.1 * median(src.votes)},
		{"rating", median(src.ratings), median(gen.ratings), 0.1},
	}
	for _, m := range medians {
		if math.Abs(m.src-m.gen) > m.tol {
			t.Errorf("median %s: source %v, generated %v (tolerance %v)", m.name, m.src, m.gen, m.tol)
		}
	}
}

func median[T int | float64](v []T) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return float64(s[len(s)/2])
}

// TestGenCommand: gen refuses to pour a catalog into a terminal, says which catalog it lacks to learn from
// and how to name one, ends with a summary of what it wrote, and takes its random seed as --random-seed
// (MARQUEE_SEED is the seed file of serve).
func TestGenCommand(t *testing.T) {
	from := fixture(t)
	tty := openTerminal(t)
	ctx := context.Background()
	var stderr bytes.Buffer
	err := run(ctx, []string{"gen", "--count", "10", "--from", from}, func(string) string { return "" }, tty, &stderr)
	if err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("gen onto a terminal: %v, want a refusal that names --out", err)
	}

	missing := filepath.Join(t.TempDir(), "nothing.jsonl.gz")
	if out, err := runCommand(t, nil, "gen", "--count", "10", "--from", missing, "--out", filepath.Join(t.TempDir(), "x.jsonl")); err == nil ||
		!strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--from") {
		t.Errorf("gen from a missing catalog: %v %s, want the path and --from named", err, out)
	}

	file := filepath.Join(t.TempDir(), "movies.jsonl")
	out, err := runCommand(t, map[string]string{"MARQUEE_SEED": "data/imdb.json"}, "gen", "--count", "25", "--random-seed", "3", "--from", from, "--out", file)
	if err != nil {
		t.Fatalf("gen --out: %v %s", err, out)
	}
	b, err := os.ReadFile(file)
	if err != nil || bytes.Count(b, []byte("\n")) != 25 {
		t.Fatalf("gen --out wrote %d lines (%v), want 25", bytes.Count(b, []byte("\n")), err)
	}
	if !strings.Contains(out, "Generated 25 movies") || !strings.Contains(out, file) {
		t.Errorf("gen's summary: %q, want the count and the file", out)
	}
	if !bytes.Equal(b, generated(t, from, 3, 25)) {
		t.Error("--random-seed 3 did not give the movies of seed 3")
	}
}

// openTerminal opens a pseudo-terminal and returns its terminal side.
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { _ = ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return tty
}
