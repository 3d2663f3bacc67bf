package searchapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"

	"marquee/pkg/apperr"
	"marquee/services/search"
)

// cursorSigner signs the cursors a search hands out and checks the ones clients bring back, so that a
// cursor is opaque in fact and not only in name: an HMAC-SHA256 over the cursor and the search it continues
// (every parameter but cursor and per_page) makes a forged cursor, an edited one, or one made for another
// query, filter or sort an Invalid error before the index sees it. The page a cursor came from is no part
// of the search it continues: the next page of page 2 is asked with its cursor and no page.
type cursorSigner struct {
	key []byte
}

// newCursorSigner signs with key; with no key, with a random one, so that cursors are good for this
// process only (replicas behind one gateway need the same key).
func newCursorSigner(key []byte) cursorSigner {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand)
	}
	return cursorSigner{key: key}
}

// cursorMACLen is the length of a cursor's MAC, base64url-encoded (32 bytes).
var cursorMACLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

func (s cursorSigner) mac(params url.Values, inner string) []byte {
	bound := url.Values{}
	for k, v := range params {
		if k != "cursor" && k != "per_page" && k != "page" {
			bound[k] = v
		}
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(bound.Encode())) // keys sorted: one search, one binding
	m.Write([]byte{0})
	m.Write([]byte(inner))
	return m.Sum(nil)
}

// sign returns the cursor a client gets for inner, the index's cursor after a page of the search params.
func (s cursorSigner) sign(params url.Values, inner string) string {
	if inner == "" {
		return ""
	}
	return inner + "." + base64.RawURLEncoding.EncodeToString(s.mac(params, inner))
}

// open returns the index's cursor inside a client's, or an Invalid error when the client's was not made
// by this service for this very search.
func (s cursorSigner) open(params url.Values, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	bad := apperr.InvalidFields("The search parameters are not valid.", map[string]string{
		"cursor": "is not a cursor of this search; use the next_cursor of the previous page with the same parameters",
	})
	if len(cursor) > search.MaxCursorLen+1+cursorMACLen {
		return "", bad
	}
	inner, sig, ok := strings.Cut(cursor, ".")
	if !ok {
		return "", bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(params, inner)) {
		return "", bad
	}
	return inner, nil
}
