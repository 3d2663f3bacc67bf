package catalog

import (
	"bytes"
	"encoding/json"
)

// FieldChange is how one field changed, as JSON values: From is null for a field a creation set.
type FieldChange struct {
	From json.RawMessage `json:"from"`
	To   json.RawMessage `json:"to"`
}

var jsonNull = json.RawMessage("null")

// Diff returns the fields that differ between before and after, by their JSON names. A nil before is a
// creation: every field after sets, from null. Both must be normalised (Validate) first.
func Diff(before, after *MovieInput) map[string]FieldChange {
	out := map[string]FieldChange{}
	to := after.jsonFields()
	if before == nil {
		for i, f := range to {
			if !emptyJSON(f) {
				out[fieldNames[i]] = FieldChange{From: jsonNull, To: f}
			}
		}
		return out
	}
	from := before.jsonFields()
	for i := range to {
		if !bytes.Equal(from[i], to[i]) {
			out[fieldNames[i]] = FieldChange{From: from[i], To: to[i]}
		}
	}
	return out
}

// FirstState returns what a creation set, for a creation stored without its fields: the movie as it is now
// (current, at version atVersion, deleted or not), with each later change up to atVersion undone, newest
// first. A creation's history entry would otherwise copy the whole movie, which the movie's row and the
// later entries' "from" values already hold: it was a third of an imported catalog's database.
func FirstState(current *MovieInput, atVersion int64, later []HistoryEntry) map[string]FieldChange {
	state := map[string]json.RawMessage{}
	for i, f := range current.jsonFields() {
		state[fieldNames[i]] = f
	}
	for i := len(later) - 1; i >= 0; i-- {
		h := later[i]
		if h.Version <= 1 || h.Version > atVersion {
			continue
		}
		for name, c := range h.Changes {
			if _, ok := state[name]; ok {
				state[name] = c.From
			}
		}
	}
	out := map[string]FieldChange{}
	for _, name := range fieldNames {
		if f := state[name]; !emptyJSON(f) {
			out[name] = FieldChange{From: jsonNull, To: f}
		}
	}
	return out
}

// Same reports whether two normalised inputs hold the same values.
func Same(a, b *MovieInput) bool { return len(Diff(a, b)) == 0 }

// fieldNames are the JSON names of the writable fields, in the order of jsonFields.
var fieldNames = []string{
	"title", "year", "directors", "cast", "genres", "overview", "tagline", "keywords", "tags",
	"runtime_minutes", "rating", "votes", "popularity", "original_language", "poster_url", "tmdb_id", "imdb_id",
}

// jsonFields returns the JSON of each writable field, nil lists as [].
func (in *MovieInput) jsonFields() []json.RawMessage {
	values := []any{
		in.Title, in.Year, nonNil(in.Directors), nonNil(in.Cast), nonNil(in.Genres), in.Overview, in.Tagline,
		nonNil(in.Keywords), nonNil(in.Tags), in.RuntimeMinutes, in.Rating, in.Votes, in.Popularity,
		in.OriginalLanguage, in.PosterURL, in.TMDBID, in.IMDbID,
	}
	out := make([]json.RawMessage, len(values))
	for i, v := range values {
		b, err := json.Marshal(v)
		if err != nil { // only NaN or ±Inf, which Validate rejects
			b = jsonNull
		}
		out[i] = b
	}
	return out
}

func emptyJSON(b json.RawMessage) bool {
	s := string(b)
	return s == "null" || s == `""` || s == "[]"
}
