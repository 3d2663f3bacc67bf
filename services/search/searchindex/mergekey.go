package searchindex

import (
	"encoding/binary"
	"math"

	blevesearch "github.com/blevesearch/bleve/v2/search"
)

// mergeKey is hit h's position in a search of order as bytes that compare as the order ranks: its tier,
// then each sort value, encoded so that bytes.Compare agrees with Bleve's comparison of that value. The
// hits of shards that answer for one catalog (their tiers and scores are the whole catalog's) merge into
// the page one index would give by these keys alone.
func mergeKey(tier int, order blevesearch.SortOrder, h *blevesearch.DocumentMatch) []byte {
	key := []byte{byte(tier)}
	for i, so := range order {
		start := len(key)
		switch so.(type) {
		case *blevesearch.SortScore:
			key = appendOrderedFloat(key, h.Score)
		case *blevesearch.SortDocID:
			key = appendOrderedString(key, h.ID)
		default:
			key = appendOrderedString(key, h.Sort[i]) // Bleve compares these as strings
		}
		if so.Descending() {
			for j := start; j < len(key); j++ {
				key[j] = ^key[j]
			}
		}
	}
	return key
}

// appendOrderedFloat appends f as 8 bytes that compare as the numbers do: the sign bit flipped for a
// positive number, every bit for a negative one.
func appendOrderedFloat(b []byte, f float64) []byte {
	bits := math.Float64bits(f)
	if bits>>63 == 1 {
		bits = ^bits
	} else {
		bits |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(b, bits)
}

// appendOrderedString appends s so that what follows it cannot change its order: each 0x00 escaped as
// 0x00 0xFF, then the terminator 0x00 0x01, which sorts a string before every longer one it begins. The
// encoding stays ordered with every byte inverted, for a descending sort.
func appendOrderedString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		b = append(b, s[i])
		if s[i] == 0 {
			b = append(b, 0xFF)
		}
	}
	return append(b, 0, 1)
}
