package genres

import (
	"slices"
	"testing"
)

func TestGenres(t *testing.T) {
	g := Default()
	got := g.Canonical([]string{"Sci-Fi", "science fiction", "film-noir", "Kaiju", "DRAMA"})
	if want := []string{"Science Fiction", "Film Noir", "Kaiju", "Drama"}; !slices.Equal(got, want) {
		t.Errorf("Canonical = %q, want %q", got, want)
	}
	g, err := Parse("Kids=Family, Suspense=Thriller Film,suspense film = thriller film")
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Canonical([]string{"kids", "Suspense", "Suspense Film"}); !slices.Equal(got, []string{"Family", "Thriller Film"}) {
		t.Errorf("with synonyms = %q", got)
	}
	g, err = Parse("Children=Kids, Kids=Family")
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Canonical([]string{"Children"}); !slices.Equal(got, []string{"Family"}) || !slices.Equal(g.Canonical(got), got) {
		t.Errorf("a synonym of a synonym = %q, want Family, and Family to stay", got)
	}
	for _, bad := range []string{"Kids", "=Family", "Kids=", "Kids=!!"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
