package ingest_test

import (
	"bytes"
	"compress/gzip"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
)

func readAll(t *testing.T, data []byte) ([]ingest.Record, error) {
	t.Helper()
	var recs []ingest.Record
	err := ingest.Read(bytes.NewReader(data), func(r ingest.Record) error { recs = append(recs, r); return nil })
	return recs, err
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReadSeedFile(t *testing.T) {
	var recs []ingest.Record
	err := ingest.ReadFile(filepath.Join("..", "..", "data", "imdb.json"), func(r ingest.Record) error { recs = append(recs, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 248 {
		t.Fatalf("records = %d, want 248", len(recs))
	}
	genres, oz := map[string]bool{}, 0
	for _, r := range recs {
		if r.Err != nil || r.Format != ingest.Seed {
			t.Fatalf("record %d: format %s, err %v", r.Index, r.Format, r.Err)
		}
		for _, g := range r.Movie.Genres {
			if g != strings.TrimSpace(g) {
				t.Fatalf("genre %q not trimmed", g)
			}
			genres[g] = true
		}
		if r.Movie.Title == "The Wizard of Oz" {
			oz++
		}
		if r.Movie.Rating == nil || r.Movie.Popularity == nil || len(r.Movie.Directors) != 1 {
			t.Fatalf("record %d lost a field: %+v", r.Index, r.Movie)
		}
	}
	if len(genres) != 28 || oz != 2 {
		t.Fatalf("genres = %d (want 28), Wizards of Oz = %d (want 2)", len(genres), oz)
	}
}

// TestReadTMDBCatalog reads the whole shared TMDB-like catalog: every record must map, with its ids kept.
func TestReadTMDBCatalog(t *testing.T) {
	path := testenv.SharedData(t, "movies.jsonl.gz")
	n := 0
	var matrix ingest.Movie
	err := ingest.ReadFile(path, func(r ingest.Record) error {
		n++
		if r.Err != nil || r.Format != ingest.TMDB {
			t.Fatalf("record %d: format %s, err %v", r.Index, r.Format, r.Err)
		}
		if r.Movie.TMDBID == nil || r.Movie.Title == "" {
			t.Fatalf("record %d: no tmdb_id or title: %+v", r.Index, r.Movie)
		}
		if *r.Movie.TMDBID == 603 {
			matrix = r.Movie
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 15410 {
		t.Fatalf("records = %d, want 15410", n)
	}
	if matrix.Title != "The Matrix" || matrix.Rating == nil || *matrix.Rating != 8.193 || matrix.Votes == nil || *matrix.Votes != 22351 ||
		!slices.Equal(matrix.Directors, []string{"Lilly Wachowski"}) || !slices.Contains(matrix.Keywords, "cyberpunk") ||
		matrix.IMDbID == nil || *matrix.IMDbID != "tt0133093" || matrix.RuntimeMinutes == nil || *matrix.RuntimeMinutes != 136 ||
		matrix.OriginalLanguage != "en" || !strings.HasPrefix(matrix.PosterURL, "https://") {
		t.Fatalf("The Matrix mapped to %+v", matrix)
	}
}

func TestReadFormatsAndBadRecords(t *testing.T) {
	lines := strings.Join([]string{
		`{"title":"Heat","year":1995,"directors":["Michael Mann"],"tmdb_id":949}`,
		``,
		`{"title":"Heat","id":7,"version":3,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-02T00:00:00Z","rating":8.3,"certification":"R"}`,
		`{"title":"Typo","ratng":8}`,
		`{not json`,
		`{"name":"Rocky","director":"John G. Avildsen","genre":["Drama"," Sport"],"imdb_score":8.1,"99popularity":81.0}`,
		`{"id":1366,"title":"Rocky","vote_average":7.7,"vote_count":0,"runtime":0,"director":null}`,
	}, "\n")
	for name, data := range map[string][]byte{"plain": []byte(lines), "gzip": gz(t, []byte(lines))} {
		t.Run(name, func(t *testing.T) {
			recs, err := readAll(t, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 6 {
				t.Fatalf("records = %d, want 6 (the blank line is not one)", len(recs))
			}
			want := []struct {
				format ingest.Format
				bad    bool
			}{{ingest.Native, false}, {ingest.Native, false}, {ingest.Native, true}, {"", true}, {ingest.Seed, false}, {ingest.TMDB, false}}
			for i, w := range want {
				r := recs[i]
				if r.Index != i+1 || r.Format != w.format || (r.Err != nil) != w.bad {
					t.Fatalf("record %d: index %d format %q err %v; want format %q bad %v", i+1, r.Index, r.Format, r.Err, w.format, w.bad)
				}
			}
			// A movie as the API answers: every field of the write body read, the server's dropped.
			if m := recs[1].Movie; m.Certification != "R" || *m.Rating != 8.3 || m.ID != 0 || m.Version != 0 || !m.CreatedAt.IsZero() {
				t.Fatalf("exported movie read as %+v", m)
			}
			if !strings.Contains(recs[2].Err.Error(), `unknown field "ratng"`) {
				t.Fatalf("the typo is not named: %v", recs[2].Err)
			}
			if g := recs[4].Movie.Genres; !slices.Equal(g, []string{"Drama", "Sport"}) {
				t.Fatalf("seed genres = %q", g)
			}
			if m := recs[5].Movie; m.Rating != nil || m.RuntimeMinutes != nil || m.Directors != nil || *m.TMDBID != 1366 {
				t.Fatalf("TMDB record with no votes/runtime/director mapped to %+v", m)
			}
		})
	}
}

func TestReadArray(t *testing.T) {
	recs, err := readAll(t, []byte(" \n[{\"title\":\"A\"}, {\"title\":\"B\",\"bogus\":1}, {\"title\":\"C\"}]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Movie.Title != "A" || recs[1].Err == nil || recs[2].Movie.Title != "C" {
		t.Fatalf("records = %+v", recs)
	}
	for name, data := range map[string]string{"empty": "  ", "broken array": `[{"title":"A"}, {"title":`, "unclosed": `[{"title":"A"}`} {
		if _, err := readAll(t, []byte(data)); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{`[{"title":"A"}]`, "{\"title\":\"A\"}\n{\"name\":\"B\",\"imdb_score\":1}", `{"id":1,"title":"x","vote_count":3}`, `[`, "\x1f\x8b"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ingest.Read(bytes.NewReader(data), func(r ingest.Record) error {
			if r.Index < 1 || (r.Err == nil && r.Format == "") {
				t.Fatalf("record %+v", r)
			}
			return nil
		})
	})
}
