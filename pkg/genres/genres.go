// Package genres is Marquee's genre vocabulary: the catalog stores every genre a write names in its
// canonical spelling, and search reads a genre filter the same way.
package genres

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// Vocabulary is the catalog's genre vocabulary: every genre a write names is stored in its canonical spelling,
// so that the seed's "Sci-Fi" and the TMDB-like catalog's "Science Fiction" are one facet value and one
// filter. Spellings that differ only in case, spaces and punctuation are one genre ("sci fi", "Sci-Fi",
// "SCIFI"); a synonym maps a different word to a genre ("Noir" to "Film Noir"). A genre the vocabulary does
// not know is kept as written.
type Vocabulary struct {
	canonical map[string]string // by genreKey
}

// Default is the genres of IMDb's and TMDB's lists under one spelling each, with the synonyms that
// the two disagree on.
func Default() *Vocabulary {
	g := &Vocabulary{canonical: map[string]string{}}
	for _, name := range []string{
		"Action", "Adult", "Adventure", "Animation", "Biography", "Comedy", "Crime", "Documentary", "Drama",
		"Family", "Fantasy", "Film Noir", "Foreign", "Game Show", "History", "Horror", "Music", "Musical",
		"Mystery", "News", "Reality TV", "Romance", "Science Fiction", "Short", "Sport", "Talk Show",
		"Thriller", "TV Movie", "War", "Western",
	} {
		g.canonical[genreKey(name)] = name
	}
	for from, to := range map[string]string{
		"Sci-Fi": "Science Fiction", "Noir": "Film Noir", "Sports": "Sport", "Reality": "Reality TV",
		"Biopic": "Biography", "Historical": "History", "Romantic": "Romance", "Musicals": "Musical",
		"Documentaries": "Documentary", "Short Film": "Short", "Animated": "Animation",
	} {
		g.canonical[genreKey(from)] = to
	}
	return g
}

// Parse adds synonyms written as "from=to" pairs separated by commas (the genre_synonyms
// setting) to the default vocabulary: "Kids=Family, Suspense=Thriller". A "to" the vocabulary does not know
// becomes a genre of its own.
func Parse(spec string) (*Vocabulary, error) {
	g := Default()
	for pair := range strings.SplitSeq(spec, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		from, to, ok := strings.Cut(pair, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || genreKey(from) == "" || genreKey(to) == "" {
			return nil, fmt.Errorf("genre synonym %q is not from=to", strings.TrimSpace(pair))
		}
		if known, ok := g.canonical[genreKey(to)]; ok {
			to = known
		} else {
			g.canonical[genreKey(to)] = to
		}
		g.canonical[genreKey(from)] = to
	}
	// A synonym's genre may itself be a synonym (Children=Kids, Kids=Family): follow each to the end, so that
	// a canonical spelling stays what it is.
	for k, to := range g.canonical {
		for range len(g.canonical) {
			next, ok := g.canonical[genreKey(to)]
			if !ok || next == to {
				break
			}
			to = next
		}
		g.canonical[k] = to
	}
	return g, nil
}

// Canonical returns the genres in their canonical spellings, in order, without repeats. A nil vocabulary
// keeps them as they are.
func (g *Vocabulary) Canonical(genres []string) []string {
	if g == nil {
		return genres
	}
	out := make([]string, 0, len(genres))
	seen := make(map[string]bool, len(genres))
	for _, name := range genres {
		key := genreKey(name)
		if c, ok := g.canonical[key]; ok {
			name = c
		}
		if !seen[genreKey(name)] {
			seen[genreKey(name)] = true
			out = append(out, name)
		}
	}
	return out
}

// genreKey is what two spellings of a genre have in common: its letters and digits in lower case.
func genreKey(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, name)
}

// Fingerprint names the vocabulary: two vocabularies with one fingerprint store every genre alike.
func (g *Vocabulary) Fingerprint() string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(g.canonical)) {
		fmt.Fprintf(h, "%s=%s\n", k, g.canonical[k])
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
