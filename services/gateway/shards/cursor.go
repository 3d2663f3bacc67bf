package shards

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"marquee/pkg/apperr"
)

// cursorSigner makes the cursors of merged pages: every shard's position (the shard's own cursor after the
// last of its hits shown so far, "" before its first), signed with the search they continue, so that a
// cursor edited, made up or made for another search is refused as a shard refuses its own.
type cursorSigner struct{ key []byte }

func newCursorSigner(secret string) cursorSigner {
	key := cursorKeyOf(secret)
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
	}
	return cursorSigner{key: key}
}

// maxCursorLen bounds a merged cursor a client brings back.
const maxCursorLen = 64 << 10

func (s cursorSigner) mac(params url.Values, inner string) []byte {
	bound := url.Values{}
	for k, v := range params {
		if k != "cursor" && k != "per_page" {
			bound[k] = v
		}
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(bound.Encode()))
	m.Write([]byte{0})
	m.Write([]byte(inner))
	return m.Sum(nil)
}

func (s cursorSigner) sign(params url.Values, positions []string) string {
	b, _ := json.Marshal(positions) // strings: never fails
	inner := base64.RawURLEncoding.EncodeToString(b)
	return inner + "." + base64.RawURLEncoding.EncodeToString(s.mac(params, inner))
}

// open returns the shards' positions in a cursor of the search params, or an Invalid error.
func (s cursorSigner) open(params url.Values, cursor string, shards int) ([]string, error) {
	bad := apperr.InvalidFields("The search parameters are not valid.", map[string]string{
		"cursor": "is not a cursor of this search; use the next_cursor of the previous page with the same parameters",
	})
	inner, sig, ok := strings.Cut(cursor, ".")
	if len(cursor) > maxCursorLen || !ok {
		return nil, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(params, inner)) {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(inner)
	var positions []string
	if err != nil || json.Unmarshal(b, &positions) != nil || len(positions) != shards {
		return nil, bad // signed by this deployment for another number of shards
	}
	return positions, nil
}
