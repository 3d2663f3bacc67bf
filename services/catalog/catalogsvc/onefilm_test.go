package catalogsvc_test

import (
	"context"
	"strings"
	"testing"
	"unicode"

	"marquee/pkg/ingest"
	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogsvc"
	"marquee/services/catalog/catalogtest"
)

// TestSeedThenCatalogOneRecordPerFilm follows the documented setup: the seed's 248 movies, then the
// TMDB-like catalog imported. The films both hold merge into one record each; importing either file again
// changes nothing; the seed's "Sci-Fi" and the catalog's "Science Fiction" are one genre.
func TestSeedThenCatalogOneRecordPerFilm(t *testing.T) {
	ctx := context.Background()
	store := catalogtest.MustStore(t, catalogtest.MustOpenSQLite(t), catalogsql.SQLite)
	seed, err := catalogsvc.ReadSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Seed(ctx, seed, "imdb.json"); err != nil {
		t.Fatal(err)
	}
	var tmdb []catalog.MovieInput
	err = ingest.ReadFile(testenv.SharedData(t, "movies.jsonl.gz"), func(r ingest.Record) error {
		in := r.Movie
		if r.Err != nil || in.Validate() != nil {
			return nil // the catalog's few invalid records are the import's own test
		}
		tmdb = append(tmdb, in)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	importAll := func(inputs []catalog.MovieInput) map[catalog.ImportStatus]int {
		rs, err := store.ImportMovies(ctx, "import:test", inputs)
		if err != nil {
			t.Fatal(err)
		}
		n := map[catalog.ImportStatus]int{}
		for i, r := range rs {
			n[r.Status]++
			if r.Status == catalog.ImportFailed {
				t.Logf("record %d (%q) failed: %v", i+1, inputs[i].Title, r.Err)
			}
		}
		return n
	}

	// The films both sources hold, counted here by a simpler rule than the import's: the same letters and
	// digits of the title, and the seed's director among the catalog's.
	fold := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return unicode.ToLower(r)
			}
			return -1
		}, s)
	}
	byTitle := map[string][]catalog.MovieInput{}
	for _, in := range tmdb {
		byTitle[fold(in.Title)] = append(byTitle[fold(in.Title)], in)
	}
	overlaps := 0
	for _, s := range seed {
		for _, in := range byTitle[fold(s.Title)] {
			if len(in.Directors) > 0 && len(s.Directors) > 0 && fold(in.Directors[0]) == fold(s.Directors[0]) {
				overlaps++
				break
			}
		}
	}
	t.Logf("%d films in both sources", overlaps)
	if overlaps < 100 {
		t.Fatalf("only %d films in both sources: the test's data changed", overlaps)
	}

	got := importAll(tmdb)
	if got[catalog.ImportUpdated] != overlaps || got[catalog.ImportCreated] != len(tmdb)-overlaps || got[catalog.ImportFailed] != 0 {
		t.Errorf("the catalog's import = %v; want %d seed movies updated, %d created", got, overlaps, len(tmdb)-overlaps)
	}
	ms, err := store.Movies(ctx, 0, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(seed) + len(tmdb) - overlaps; len(ms) != want {
		t.Errorf("%d movies, want %d: one a film", len(ms), want)
	}
	godfathers := 0
	for _, m := range ms {
		if fold(m.Title) == "thegodfather" {
			godfathers++
			if m.Year == nil || *m.Year != 1972 || m.Votes == nil || m.TMDBID == nil {
				t.Errorf("The Godfather = %+v: want the catalog's year, votes and id", m)
			}
		}
		for _, g := range m.Genres {
			if g == "Sci-Fi" {
				t.Fatalf("%q keeps the genre %q", m.Title, g)
			}
		}
	}
	if godfathers != 1 {
		t.Errorf("%d movies are The Godfather, want 1", godfathers)
	}

	for name, file := range map[string][]catalog.MovieInput{"the catalog": tmdb, "the seed": seed} {
		if got := importAll(file); got[catalog.ImportUnchanged] != len(file) {
			t.Errorf("%s imported again = %v, want all %d unchanged", name, got, len(file))
		}
	}
}
