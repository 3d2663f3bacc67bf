package catalogapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// MaxMovieBodyBytes is the limit on a movie body (POST, PUT, PATCH).
const MaxMovieBodyBytes = 1 << 20

// decodeMovieBody strictly decodes and validates a movie body (POST, PUT, a line of an import): the movie's
// writable fields, the server's (id, version, times) refused as unknown.
func decodeMovieBody(data []byte) (catalog.MovieInput, error) {
	in, err := events.DecodeInput(data, httpx.UnmarshalStrict)
	if err != nil {
		return catalog.MovieInput{}, err
	}
	if err := in.Validate(); err != nil {
		return catalog.MovieInput{}, err
	}
	return in, nil
}

// readMovie reads and validates the movie body of a POST or PUT; the raw body comes back for the
// Idempotency-Key's request hash.
func readMovie(c *gin.Context) (catalog.MovieInput, []byte, error) {
	if err := httpx.RequireContentType(c.Request, httpx.JSONContentType); err != nil {
		return catalog.MovieInput{}, nil, err
	}
	body, err := readBody(c.Request, MaxMovieBodyBytes)
	if err != nil {
		return catalog.MovieInput{}, nil, err
	}
	in, err := decodeMovieBody(body)
	return in, body, err
}

// readBody reads a request body of at most limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) { // a limit set further out, e.g. by the gateway
		return nil, apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", tooLarge.Limit)
	}
	if err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "The request body could not be read.")
	}
	if int64(len(body)) > limit {
		return nil, apperr.Errorf(apperr.TooLarge, "The request body is over %d bytes.", limit)
	}
	return body, nil
}

// movieJSON is a movie's answer body.
func movieJSON(m *catalog.Movie) []byte {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(catalog.EventMovie(m)) // cannot fail: Validate rejects NaN and ±Inf
	return b.Bytes()
}

// writeMovie answers with a movie in its wire form and its version as the ETag.
func writeMovie(c *gin.Context, status int, m *catalog.Movie) {
	c.Header("ETag", etag(m.Version))
	httpx.WriteJSON(c.Writer, status, catalog.EventMovie(m))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

func movieLocation(id int64) string { return "/v1/movies/" + strconv.FormatInt(id, 10) }

// movieID parses the :id parameter; ids are positive.
func movieID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.InvalidFields("The movie id is not valid.", map[string]string{"id": "must be a positive integer"})
	}
	return id, nil
}

// parseIfMatch returns the version named by an If-Match value: 0 without one or with "*" (any current
// version). The value must be one strong entity tag as this API sends them, like "3". If-Match compares
// strongly (RFC 9110 §13.1.1), so a weak tag (W/"3") never matches: PreconditionFailed. Anything that is
// not an entity tag (3, an unterminated "3, a list) is Invalid.
func parseIfMatch(h string) (int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return 0, nil
	}
	weak := strings.HasPrefix(h, "W/")
	v := strings.TrimPrefix(h, "W/")
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' {
		return 0, apperr.Errorf(apperr.Invalid, `If-Match must be one entity tag, like "3".`)
	}
	v = v[1 : len(v)-1]
	if weak {
		if strings.ContainsRune(v, '"') {
			return 0, apperr.Errorf(apperr.Invalid, `If-Match must be one entity tag, like "3".`)
		}
		return 0, apperr.Errorf(apperr.PreconditionFailed, "If-Match compares strongly: a weak entity tag never matches.")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 || v[0] == '+' || v[0] == '0' {
		return 0, apperr.Errorf(apperr.Invalid, `If-Match must be one entity tag, like "3".`)
	}
	return n, nil
}

// target reads the id and If-Match of a write.
func target(c *gin.Context) (id, version int64, err error) {
	if id, err = movieID(c); err != nil {
		return 0, 0, err
	}
	if len(c.Request.Header.Values("If-Match")) > 1 {
		return 0, 0, apperr.Errorf(apperr.Invalid, `If-Match must name one version, like "3".`)
	}
	if version, err = parseIfMatch(c.GetHeader("If-Match")); err != nil {
		return 0, 0, err
	}
	return id, version, nil
}

// actorOf names the request's principal in histories and Idempotency-Keys by a stable id ("user:<id>",
// "key:<id>"), never by a username that a later account may reuse.
func actorOf(c *gin.Context) string { return c.GetString(actorKey) }

// handleMovieGet handles "GET /v1/movies/:id".
func handleMovieGet(store catalog.MovieStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := movieID(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		m, err := store.Movie(c.Request.Context(), id)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Header("Cache-Control", "no-cache")
		writeMovie(c, http.StatusOK, m)
	}
}

// handleMovieCreate handles "POST /v1/movies", once per Idempotency-Key. A movie that looks like one the
// catalog holds (catalog.SameFilm) is refused unless the request says allow_duplicate=true.
func handleMovieCreate(store catalog.MovieStore, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, hasKey, err := idempotencyKeyOf(c.Request)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		onSame := catalog.RefuseSameFilm
		switch v, ok := c.GetQuery("allow_duplicate"); {
		case !ok || v == "false":
		case v == "true":
			onSame = catalog.CreateAnyway
		default:
			httpx.Error(c, apperr.InvalidFields("allow_duplicate must be true or false.", map[string]string{"allow_duplicate": "must be true or false"}))
			return
		}
		in, body, err := readMovie(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		ctx := c.Request.Context()
		if !hasKey {
			m, err := store.CreateMovie(ctx, actorOf(c), in, onSame)
			if err != nil {
				httpx.Error(c, err)
				return
			}
			changed()
			c.Header("Location", movieLocation(m.ID))
			writeMovie(c, http.StatusCreated, m)
			return
		}
		ikey := catalog.IdempotencyKey{Principal: actorOf(c), Key: key, RequestHash: requestHash(c.Request, body)}
		resp, replayed, err := store.CreateMovieOnce(ctx, actorOf(c), in, onSame, ikey, func(m *catalog.Movie) (catalog.SavedResponse, error) {
			return catalog.SavedResponse{Status: http.StatusCreated, Location: movieLocation(m.ID), ETag: etag(m.Version), Body: movieJSON(m)}, nil
		})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if !replayed {
			changed()
		}
		writeSaved(c, resp, replayed)
	}
}

// handleMovieUpdate handles "PUT /v1/movies/:id".
func handleMovieUpdate(store catalog.MovieStore, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, version, err := target(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		in, _, err := readMovie(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		m, err := store.UpdateMovie(c.Request.Context(), actorOf(c), id, version, in)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		changed()
		writeMovie(c, http.StatusOK, m)
	}
}

// MergePatchType is the media type of a JSON merge patch (RFC 7396).
const MergePatchType = "application/merge-patch+json"

// handleMoviePatch handles "PATCH /v1/movies/:id": a JSON merge patch (RFC 7396) of the write body. The
// patched movie is validated like a PUT. Without If-Match, a patch that loses a race with another write is
// applied again to the new version.
func handleMoviePatch(store catalog.MovieStore, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := httpx.RequireContentType(c.Request, MergePatchType, httpx.JSONContentType); err != nil {
			httpx.Error(c, err)
			return
		}
		id, ifVersion, err := target(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		patch, err := readBody(c.Request, MaxMovieBodyBytes)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		ctx := c.Request.Context()
		for attempt := 0; ; attempt++ {
			m, err := patchMovie(ctx, store, actorOf(c), id, ifVersion, patch)
			if apperr.Is(err, apperr.PreconditionFailed) && ifVersion == 0 {
				if attempt < 5 {
					continue // lost a race without If-Match: patch the newer version
				}
				err = apperr.Errorf(apperr.Conflict, "Movie %d kept changing during the patch; retry.", id)
			}
			if err != nil {
				httpx.Error(c, err)
				return
			}
			changed()
			writeMovie(c, http.StatusOK, m)
			return
		}
	}
}

func patchMovie(ctx context.Context, store catalog.MovieStore, actor string, id, ifVersion int64, patch []byte) (*catalog.Movie, error) {
	cur, err := store.Movie(ctx, id)
	if err != nil {
		return nil, err
	}
	if ifVersion != 0 && cur.Version != ifVersion {
		return nil, apperr.Errorf(apperr.PreconditionFailed, "Movie %d is no longer at version %d.", id, ifVersion)
	}
	in, err := applyMergePatch(cur.Input(), patch)
	if err != nil {
		return nil, err
	}
	return store.UpdateMovie(ctx, actor, id, cur.Version, in)
}

// applyMergePatch applies a JSON merge patch (RFC 7396) to a movie's writable fields and validates the
// result. The patch must be an object of known fields; null removes a field (title cannot be removed);
// any other value replaces the field whole.
func applyMergePatch(cur catalog.MovieInput, patch []byte) (catalog.MovieInput, error) {
	var ops map[string]json.RawMessage
	if err := httpx.UnmarshalStrict(patch, &ops); err != nil {
		return catalog.MovieInput{}, err
	}
	if ops == nil { // the patch was null
		return catalog.MovieInput{}, apperr.Errorf(apperr.Invalid, "A merge patch must be a JSON object.")
	}
	doc := map[string]json.RawMessage{}
	for _, f := range events.Fields {
		v, err := json.Marshal(f.Value(&cur))
		if err != nil {
			return catalog.MovieInput{}, err
		}
		doc[f.Name] = v
	}
	bad := map[string]string{}
	for field, v := range ops {
		if _, known := doc[field]; !known {
			bad[field] = "is not a movie field"
			continue
		}
		if string(bytes.TrimSpace(v)) == "null" {
			if field == "title" {
				bad[field] = "cannot be removed"
			}
			delete(doc, field)
			continue
		}
		doc[field] = v
	}
	if len(bad) > 0 {
		return catalog.MovieInput{}, apperr.InvalidFields("The merge patch is not valid.", bad)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return catalog.MovieInput{}, apperr.Errorf(apperr.Invalid, "The merge patch is not valid.")
	}
	return decodeMovieBody(data)
}

// handleMovieDelete handles "DELETE /v1/movies/:id".
func handleMovieDelete(store catalog.MovieStore, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, version, err := target(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		v, err := store.DeleteMovie(c.Request.Context(), actorOf(c), id, version)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		changed()
		c.Header("ETag", etag(v))
		c.Status(http.StatusNoContent)
		c.Writer.WriteHeaderNow()
	}
}

type historyResponse struct {
	ID      int64          `json:"id"`
	History []historyEntry `json:"history"`
}

type historyEntry struct {
	Version int64                          `json:"version"`
	Action  string                         `json:"action"`
	Actor   string                         `json:"actor"`
	At      time.Time                      `json:"at"`
	Changes map[string]catalog.FieldChange `json:"changes"`
}

// handleMovieHistory handles "GET /v1/movies/:id/history".
func handleMovieHistory(store catalog.MovieStore) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := movieID(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		hs, err := store.MovieHistory(c.Request.Context(), id)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := historyResponse{ID: id, History: make([]historyEntry, 0, len(hs))}
		for _, h := range hs {
			out.History = append(out.History, historyEntry{Version: h.Version, Action: h.Action, Actor: h.Actor, At: h.At.UTC(), Changes: h.Changes})
		}
		c.Header("Cache-Control", "no-store")
		httpx.WriteJSON(c.Writer, http.StatusOK, out)
	}
}

type healthResponse struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"` // why a ready service is degraded
}

// handleHealthz handles "GET /healthz".
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		httpx.WriteJSON(c.Writer, http.StatusOK, healthResponse{Status: "ok"})
	}
}

// handleReadyz handles "GET /readyz". A ready service that lacks something (degraded, non-nil) still answers
// 200, with status "degraded" and why.
func handleReadyz(ready func(context.Context) error, degraded func(context.Context) string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := ready(c.Request.Context()); err != nil {
			if !apperr.Is(err, apperr.Unavailable) {
				err = apperr.Errorf(apperr.Unavailable, "Not ready: %s.", apperr.MessageOf(err))
			}
			httpx.Error(c, err)
			return
		}
		if degraded != nil {
			if why := degraded(c.Request.Context()); why != "" {
				httpx.WriteJSON(c.Writer, http.StatusOK, healthResponse{Status: "degraded", Detail: why})
				return
			}
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, healthResponse{Status: "ready"})
	}
}
