package searchindex

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
	"strings"

	blevesearch "github.com/blevesearch/bleve/v2/search"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

// cursor is the position after the last hit of a page: the tier it came from and its sort values (Bleve's
// search_after). It names the sort it was made for, so that it is never applied to another order. It keeps
// what the first page decided from the whole catalog, which a write between pages may change: the tiers of
// a text search (so that its tier stays the one it was made in) and the mean rating a weighted rating pulls
// towards (so that its sort values stay those of the movies it was made between).
type cursor struct {
	Tier   int      `json:"t"`
	After  [][]byte `json:"a"` // raw sort values; numbers prefix-coded, so they compare like Bleve's own
	Sort   string   `json:"s"`
	Layout layout   `json:"l,omitempty"`
	Mean   *float64 `json:"m,omitempty"` // of a sort by rating
}

func sortSignature(keys []search.SortKey) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k.Field
		if k.Desc {
			parts[i] = "-" + k.Field
		}
	}
	return strings.Join(parts, ",")
}

func invalidCursor() error {
	return apperr.InvalidFields("The search parameters are not valid.", map[string]string{
		"cursor": "is not a cursor of this search; use the next_cursor of the previous page with the same parameters",
	})
}

// encodeCursor makes the opaque cursor that continues after hit h of tier, in a search of that layout.
func encodeCursor(tier int, l layout, order blevesearch.SortOrder, h *blevesearch.DocumentMatch, keys []search.SortKey) (string, error) {
	c := cursor{Tier: tier, After: make([][]byte, len(order)), Sort: sortSignature(keys), Layout: l}
	for i, so := range order {
		switch so := so.(type) {
		case *weightedRatingSort:
			if !math.IsNaN(so.mean) {
				c.Mean = &so.mean
			}
			c.After[i] = []byte(h.Sort[i])
		case *blevesearch.SortScore:
			c.After[i] = []byte(strconv.FormatFloat(h.Score, 'g', -1, 64))
		case *blevesearch.SortDocID:
			c.After[i] = []byte(h.ID)
		default:
			c.After[i] = []byte(h.Sort[i])
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// maxTier is the last tier a search can have: topic, exact, typo and partial ("cetp").
const maxTier = 3

// decodeCursor reads a cursor given back by a client; nil for none. A cursor that this service did not
// make for this sort is an apperr.Invalid error.
func decodeCursor(s string, keys []search.SortKey) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalidCursor()
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.Tier < 0 || c.Tier > maxTier || len(c.After) == 0 || c.Sort != sortSignature(keys) ||
		(c.Layout != "" && !c.Layout.valid()) || (c.Mean != nil && (math.IsNaN(*c.Mean) || math.IsInf(*c.Mean, 0))) {
		return nil, invalidCursor()
	}
	return &c, nil
}
