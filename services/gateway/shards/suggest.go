package shards

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
)

// suggestions is a suggest answer, a shard's (with Merge) or the merged one.
type suggestions struct {
	Suggestions []json.RawMessage      `json:"suggestions"`
	Merge       *shardwire.Suggestions `json:"merge,omitempty"`
}

// suggest answers GET /v1/suggest: every shard's best completions, by their scores. A title or a name
// several shards complete to is given once, where it ranks best.
func (m *Merger) suggest(w http.ResponseWriter, r *http.Request) {
	answers, err := m.ask(r.Context(), r, func(int) *question { return &question{query: r.URL.Query(), header: merging()} })
	if err != nil {
		m.unavailable(w, r, err)
		return
	}
	if relayFailure(w, answers) {
		return
	}
	type ranked struct {
		raw   json.RawMessage
		score float64
		key   string
	}
	var all []ranked
	limit := 0
	for i, a := range answers {
		var s suggestions
		if err := json.Unmarshal(a.body, &s); err != nil || s.Merge == nil || len(s.Merge.Scores) != len(s.Suggestions) {
			m.unavailable(w, r, fmt.Errorf("shard %d answered suggest without its merge: %v", i, err))
			return
		}
		limit = max(limit, s.Merge.Limit)
		for k, raw := range s.Suggestions {
			var one struct{ Text, Kind string }
			if err := json.Unmarshal(raw, &one); err != nil {
				m.unavailable(w, r, fmt.Errorf("shard %d suggestion: %w", i, err))
				return
			}
			all = append(all, ranked{raw, s.Merge.Scores[k], one.Kind + "\x00" + strings.ToLower(one.Text)})
		}
	}
	slices.SortStableFunc(all, func(a, b ranked) int { return cmp.Compare(b.score, a.score) })
	out := suggestions{Suggestions: []json.RawMessage{}}
	seen := map[string]bool{}
	for _, s := range all {
		if len(out.Suggestions) < limit && !seen[s.key] {
			seen[s.key] = true
			out.Suggestions = append(out.Suggestions, s.raw)
		}
	}
	if cc := answers[0].header.Get("Cache-Control"); cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}
