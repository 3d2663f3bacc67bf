package catalog

import (
	"bytes"
	"encoding/json"

	"marquee/pkg/events"
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
	to := jsonFields(after)
	if before == nil {
		for i, f := range to {
			if !emptyJSON(f) {
				out[events.Fields[i].Name] = FieldChange{From: jsonNull, To: f}
			}
		}
		return out
	}
	from := jsonFields(before)
	for i := range to {
		if !bytes.Equal(from[i], to[i]) {
			out[events.Fields[i].Name] = FieldChange{From: from[i], To: to[i]}
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
	for i, f := range jsonFields(current) {
		state[events.Fields[i].Name] = f
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
	for _, f := range events.Fields {
		if v := state[f.Name]; !emptyJSON(v) {
			out[f.Name] = FieldChange{From: jsonNull, To: v}
		}
	}
	return out
}

// Same reports whether two normalised inputs hold the same values.
func Same(a, b *MovieInput) bool { return len(Diff(a, b)) == 0 }

// jsonFields returns the JSON of each writable field of in, in the order of events.Fields, nil lists as [].
func jsonFields(in *MovieInput) []json.RawMessage {
	out := make([]json.RawMessage, len(events.Fields))
	for i, f := range events.Fields {
		b, err := json.Marshal(f.Value(in))
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
