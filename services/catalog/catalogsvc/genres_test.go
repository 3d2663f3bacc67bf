package catalogsvc_test

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"marquee/pkg/testenv"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
	"marquee/services/catalog/catalogtest"
)

// TestRespellGenres: a database written before the genre vocabulary holds "Sci-Fi"; the first start that
// runs stores it as "Science Fiction", as an ordinary update, and a later start with the same vocabulary
// changes nothing.
func TestRespellGenres(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "catalog.db")
	old := catalogtest.MustStore(t, catalogtest.MustOpenSQLiteAt(t, path), catalogsql.SQLite)
	old.UseGenres(nil) // as written: the store of before the vocabulary
	m, err := old.CreateMovie(ctx, "ada", catalog.MovieInput{Title: "Solaris", Genres: []string{"Drama", "Sci-Fi"}}, catalog.CreateAnyway)
	if err != nil || !slices.Equal(m.Genres, []string{"Drama", "Sci-Fi"}) {
		t.Fatalf("old-style movie = %+v, %v", m, err)
	}
	js := testenv.JetStream(t)
	for start := range 2 {
		svc := mustStart(t, testConfig(), path, js, io.Discard)
		runUntilReady(t, svc)
		var got *catalog.Movie
		deadline := time.Now().Add(20 * time.Second)
		for {
			if got, err = svc.Store().Movie(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
			if slices.Equal(got.Genres, []string{"Drama", "Science Fiction"}) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !slices.Equal(got.Genres, []string{"Drama", "Science Fiction"}) || got.Version != 2 {
			t.Fatalf("start %d: %+v: want the genres respelt once, at version 2", start, got)
		}
		hs, err := svc.Store().MovieHistory(ctx, m.ID)
		if err != nil || len(hs) != 2 || hs[1].Actor != "genres" {
			t.Fatalf("start %d: history %+v, %v", start, hs, err)
		}
	}
}
