package catalogapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/services/catalog"
)

// IdempotencyKeyHeader names a client's key for a POST it may retry (Stripe's model,
// draft-ietf-httpapi-idempotency-key-header); ReplayedHeader marks an answer replayed from the first
// request with the key.
const (
	IdempotencyKeyHeader = "Idempotency-Key"
	ReplayedHeader       = "Idempotent-Replayed"
	maxIdempotencyKeyLen = 255
)

var errBadIdempotencyKey = apperr.Errorf(apperr.Invalid,
	"Idempotency-Key must be one value of 1 to %d printable ASCII characters.", maxIdempotencyKeyLen)

// checkIdempotencyKey checks the values of the Idempotency-Key header: none, or one of 1 to 255 printable
// ASCII characters.
func checkIdempotencyKey(values []string) (key string, ok bool, err error) {
	switch len(values) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", false, errBadIdempotencyKey
	}
	key = values[0]
	if key == "" || len(key) > maxIdempotencyKeyLen {
		return "", false, errBadIdempotencyKey
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x20 || key[i] > 0x7e {
			return "", false, errBadIdempotencyKey
		}
	}
	return key, true, nil
}

func idempotencyKeyOf(r *http.Request) (string, bool, error) {
	return checkIdempotencyKey(r.Header.Values(IdempotencyKeyHeader))
}

// requestHash identifies a request for its idempotency key: method, path and body.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.Method + " " + r.URL.Path + "\n"))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// writeSaved writes a saved answer, marked as replayed if it is one.
func writeSaved(c *gin.Context, resp catalog.SavedResponse, replayed bool) {
	h := c.Writer.Header()
	if resp.Location != "" {
		h.Set("Location", resp.Location)
	}
	if resp.ETag != "" {
		h.Set("ETag", resp.ETag)
	}
	if replayed {
		h.Set(ReplayedHeader, "true")
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	c.Writer.WriteHeader(resp.Status)
	_, _ = c.Writer.Write(resp.Body)
}
