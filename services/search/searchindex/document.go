package searchindex

import (
	"encoding/json"
	"fmt"
	"strings"

	"marquee/services/search"
)

// toDoc turns a movie into the document the mapping indexes. Missing numbers are left out rather than
// indexed as zero, so they sort last instead of pretending to be unpopular.
func (x *Index) toDoc(m *search.Movie) (map[string]any, error) {
	src, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode movie %d: %w", m.ID, err)
	}
	d := map[string]any{
		fieldTitle:     m.Title,
		fieldTitleKey:  titleKeys(typedTitleKey(x.key(m.Title))),
		fieldTitleSort: m.Title,
		fieldDirectors: m.Directors,
		fieldDirector:  x.labelled(m.Directors),
		fieldCast:      m.Cast,
		fieldCastName:  x.labelled(m.Cast),
		fieldGenres:    m.Genres,
		fieldGenre:     m.Genres,
		fieldGenreKey:  x.keys(m.Genres),
		fieldKeywords:  m.Keywords,
		fieldTags:      m.Tags,
		fieldTagline:   m.Tagline,
		fieldOverview:  m.Overview,
		fieldSample:    sampleKey(m.ID),
		fieldSource:    string(src),
	}
	for _, c := range search.CodeFilters {
		if v := c.Value(m); v != "" {
			d[c.Name] = c.Fold(v)
		}
	}
	if m.Year != nil {
		d[fieldYear] = exactNumber(float64(*m.Year))
	}
	if m.RuntimeMinutes != nil {
		d[fieldRuntime] = exactNumber(float64(*m.RuntimeMinutes))
	}
	if m.Rating != nil {
		d[fieldRating] = exactNumber(*m.Rating)
	}
	if m.Votes != nil {
		d[fieldVotes] = exactNumber(float64(*m.Votes))
	}
	if m.Popularity != nil {
		d[fieldPopularity] = *m.Popularity
	}
	return d, nil
}

// typedTitleKey writes a title key as people type titles: without apostrophes ("ocean's" is "oceans"), and with
// its numbers one way, in digits, apart from the letters around them: "rocky ii", "rocky two" and "rocky 2"
// are one key, and so are "alien3" and "alien 3". The query's key is written the same way, so a title typed
// so still counts as the whole title. Every number counts here, one-letter Roman numerals included: both
// sides agree.
func typedTitleKey(key string) string {
	words := strings.Fields(key)
	changed := false
	for i, w := range words {
		if strings.ContainsAny(w, "'’") {
			w = strings.NewReplacer("'", "", "’", "").Replace(w)
			words[i], changed = w, true
		}
		if d, ok := numberDigits[w]; ok {
			words[i], changed = d, true
			continue
		}
		if split := splitDigits(w); split != w {
			words[i], changed = split, true
		}
	}
	if !changed {
		return key
	}
	return strings.Join(words, " ")
}

// splitDigits puts a space between letters and digits that touch: "alien3" is "alien 3".
func splitDigits(w string) string {
	var b strings.Builder
	prev := 0 // 1 letter, 2 digit
	for _, r := range w {
		kind := 1
		if r >= '0' && r <= '9' {
			kind = 2
		}
		if prev != 0 && kind != prev {
			b.WriteByte(' ')
		}
		prev = kind
		b.WriteRune(r)
	}
	return b.String()
}

// numberDigits maps every written form of the numbers 1 to 20 (English word, Roman numeral) to its digits.
var numberDigits = func() map[string]string {
	m := map[string]string{"one": "1", "i": "1"}
	for digits, forms := range numerals {
		if digits[0] >= '0' && digits[0] <= '9' {
			for _, f := range forms {
				m[f] = digits
			}
		}
	}
	m["v"], m["x"] = "5", "10"
	return m
}()

// titleKeys are the exact-title keys of a normalized title: itself, and without a leading article.
func titleKeys(key string) []string {
	keys := []string{key}
	for _, a := range []string{"the ", "a ", "an "} {
		if rest, ok := strings.CutPrefix(key, a); ok && rest != "" {
			keys = append(keys, rest)
		}
	}
	return keys
}
