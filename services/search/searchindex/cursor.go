package searchindex

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	blevesearch "github.com/blevesearch/bleve/v2/search"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

// cursor is the position after the last hit of a page: the tier it came from and its sort values (Bleve's
// search_after). It names the sort it was made for, so that it is never applied to another order.
type cursor struct {
	Tier  int      `json:"t"`
	After [][]byte `json:"a"` // raw sort values; numbers prefix-coded, so they compare like Bleve's own
	Sort  string   `json:"s"`
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

// encodeCursor makes the opaque cursor that continues after hit h of tier.
func encodeCursor(tier int, order blevesearch.SortOrder, h *blevesearch.DocumentMatch, keys []search.SortKey) (string, error) {
	c := cursor{Tier: tier, After: make([][]byte, len(order)), Sort: sortSignature(keys)}
	for i, so := range order {
		switch so.(type) {
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
	if err := json.Unmarshal(b, &c); err != nil || c.Tier < 0 || c.Tier > 2 || len(c.After) == 0 || c.Sort != sortSignature(keys) {
		return nil, invalidCursor()
	}
	return &c, nil
}
