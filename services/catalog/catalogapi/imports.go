package catalogapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// Limits of one import request.
const (
	MaxImportRecords = 10_000
	MaxImportBytes   = 64 << 20 // of the body, and of its decompressed content
)

// parseImportBody splits an import body into its records: a JSON array of objects, or JSON Lines (one
// value a line, blank lines skipped). gzipped bodies (declared, or recognised by their magic bytes) are
// decompressed first. A record's own faults are left for its decoding; only an unreadable body, a broken
// array, or a body over the limits is an error.
func parseImportBody(body []byte, gzipped bool) ([]json.RawMessage, error) {
	if gzipped || (len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b) {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "The request body is not valid gzip.")
		}
		data, err := io.ReadAll(io.LimitReader(zr, MaxImportBytes+1))
		if err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "The request body is not valid gzip.")
		}
		if len(data) > MaxImportBytes {
			return nil, apperr.Errorf(apperr.TooLarge, "The decompressed request body is over %d bytes.", MaxImportBytes)
		}
		body = data
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	if len(bytes.TrimSpace(trimmed)) == 0 {
		return nil, apperr.Errorf(apperr.Invalid, "The request body holds no records.")
	}
	var recs []json.RawMessage
	tooMany := apperr.Errorf(apperr.TooLarge, "An import holds at most %d records.", MaxImportRecords)
	if trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		if _, err := dec.Token(); err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "The request body is not a valid JSON array.")
		}
		for dec.More() {
			if len(recs) == MaxImportRecords {
				return nil, tooMany
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, apperr.Errorf(apperr.Invalid, "Record %d of the JSON array is malformed; the array cannot be read on.", len(recs)+1)
			}
			recs = append(recs, raw)
		}
		if _, err := dec.Token(); err != nil {
			return nil, apperr.Errorf(apperr.Invalid, "The JSON array is not closed.")
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, apperr.Errorf(apperr.Invalid, "The request body has data after the JSON array.")
		}
		return recs, nil
	}
	for line := range bytes.Lines(trimmed) { // sub-slices of the body: records are never copied
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if len(recs) == MaxImportRecords {
			return nil, tooMany
		}
		recs = append(recs, json.RawMessage(line))
	}
	return recs, nil
}

type importResponse struct {
	Total     int            `json:"total"`
	Created   int            `json:"created"`
	Updated   int            `json:"updated"`
	Unchanged int            `json:"unchanged"`
	Failed    int            `json:"failed"`
	Results   []importResult `json:"results"`
}

type importResult struct {
	Index   int               `json:"index"`
	Status  string            `json:"status"`
	ID      int64             `json:"id,omitempty"`
	Version int64             `json:"version,omitempty"`
	Errors  map[string]string `json:"errors,omitempty"`
	Detail  string            `json:"detail,omitempty"`
}

// importContentTypes are the media types of an import body: a JSON array, or JSON Lines.
var importContentTypes = []string{httpx.JSONContentType, "application/x-ndjson", "application/jsonl"}

// importStore is what an import needs: the movies, and the Idempotency-Key held across its transactions.
type importStore interface {
	catalog.MovieStore
	catalog.IdempotencyStore
}

// handleImport handles "POST /v1/imports": many movie bodies at once, each created or, when its tmdb_id
// (else imdb_id) names a live movie, updated. Once per Idempotency-Key.
func handleImport(log *slog.Logger, store importStore, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, hasKey, err := idempotencyKeyOf(c.Request)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if err := httpx.RequireContentType(c.Request, importContentTypes...); err != nil {
			httpx.Error(c, err)
			return
		}
		gzipped := false
		switch enc := strings.ToLower(strings.TrimSpace(c.GetHeader("Content-Encoding"))); enc {
		case "", "identity":
		case "gzip", "x-gzip":
			gzipped = true
		default:
			httpx.Error(c, apperr.Errorf(apperr.UnsupportedMedia, "Content-Encoding %q is not supported; use gzip or none.", enc))
			return
		}
		body, err := readBody(c.Request, MaxImportBytes)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		recs, err := parseImportBody(body, gzipped)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		ctx := c.Request.Context()
		var ikey catalog.IdempotencyKey
		if hasKey {
			ikey = catalog.IdempotencyKey{Principal: actorOf(c), Key: key, RequestHash: requestHash(c.Request, body)}
			saved, err := store.ClaimIdempotencyKey(ctx, ikey)
			if err != nil {
				httpx.Error(c, err)
				return
			}
			if saved != nil {
				writeSaved(c, *saved, true)
				return
			}
		}
		resp, err := runImport(c, store, recs)
		if err != nil {
			if hasKey {
				if err := store.ReleaseIdempotencyKey(ctx, ikey); err != nil {
					log.Warn("release idempotency key", "err", err)
				}
			}
			httpx.Error(c, err)
			return
		}
		if resp.Created+resp.Updated > 0 {
			changed()
		}
		data, _ := json.Marshal(resp) // plain strings and numbers: cannot fail
		saved := catalog.SavedResponse{Status: http.StatusOK, Body: append(data, '\n')}
		if hasKey {
			if err := store.CompleteIdempotencyKey(ctx, ikey, saved); err != nil {
				log.Warn("save idempotent import answer", "err", err)
			}
		}
		writeSaved(c, saved, false)
	}
}

// runImport validates every record, then has the store write the valid ones in order.
func runImport(c *gin.Context, store catalog.MovieStore, recs []json.RawMessage) (*importResponse, error) {
	resp := &importResponse{Total: len(recs), Results: make([]importResult, len(recs))}
	valid := make([]catalog.MovieInput, 0, len(recs))
	at := make([]int, 0, len(recs)) // valid[i] is record at[i]
	for i, raw := range recs {
		resp.Results[i].Index = i + 1
		in, err := decodeMovieBody(raw)
		if err != nil {
			resp.Results[i].fail(err)
			continue
		}
		valid = append(valid, in)
		at = append(at, i)
	}
	results, err := store.ImportMovies(c.Request.Context(), "import:"+actorOf(c), valid)
	if err != nil {
		return nil, err
	}
	for j, r := range results {
		res := &resp.Results[at[j]]
		if r.Status == catalog.ImportFailed {
			res.fail(r.Err)
			continue
		}
		res.Status, res.ID, res.Version = string(r.Status), r.Movie.ID, r.Movie.Version
	}
	for _, r := range resp.Results {
		switch catalog.ImportStatus(r.Status) {
		case catalog.ImportCreated:
			resp.Created++
		case catalog.ImportUpdated:
			resp.Updated++
		case catalog.ImportUnchanged:
			resp.Unchanged++
		default:
			resp.Failed++
		}
	}
	return resp, nil
}

func (r *importResult) fail(err error) {
	r.Status, r.Errors, r.Detail = string(catalog.ImportFailed), apperr.FieldsOf(err), apperr.MessageOf(err)
}
