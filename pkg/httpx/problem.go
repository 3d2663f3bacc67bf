// Package httpx holds the HTTP plumbing every Marquee service shares: RFC 9457 problem+json errors, strict JSON
// decoding, the gin engine with recovery and request logging, and a server that shuts down gracefully.
package httpx

import (
	"encoding/json"
	"net/http"

	"marquee/pkg/apperr"
)

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   int               `json:"status"`
	Detail   string            `json:"detail,omitempty"`
	Instance string            `json:"instance,omitempty"`
	Code     apperr.Code       `json:"code"`
	Errors   map[string]string `json:"errors,omitempty"` // field → problem, for validation failures
}

// ProblemType is the stable, machine-readable type URI of a code.
func ProblemType(code apperr.Code) string { return "urn:marquee:problem:" + string(code) }

var statusOf = map[apperr.Code]int{
	apperr.Invalid:            http.StatusBadRequest,
	apperr.Unauthorized:       http.StatusUnauthorized,
	apperr.Forbidden:          http.StatusForbidden,
	apperr.NotFound:           http.StatusNotFound,
	apperr.MethodNotAllowed:   http.StatusMethodNotAllowed,
	apperr.Conflict:           http.StatusConflict,
	apperr.PreconditionFailed: http.StatusPreconditionFailed,
	apperr.Unprocessable:      http.StatusUnprocessableEntity,
	apperr.TooLarge:           http.StatusRequestEntityTooLarge,
	apperr.UnsupportedMedia:   http.StatusUnsupportedMediaType,
	apperr.RateLimited:        http.StatusTooManyRequests,
	apperr.Unavailable:        http.StatusServiceUnavailable,
	apperr.ClientClosed:       StatusClientClosed,
	apperr.Internal:           http.StatusInternalServerError,
}

// StatusClientClosed is the status logged and counted for a request whose client went away before the
// answer was ready (nginx's 499): the client's doing, not a server error. The client never sees it.
const StatusClientClosed = 499

// StatusOf maps an error's code to its HTTP status: the one place that does so.
func StatusOf(err error) int { return statusOf[apperr.CodeOf(err)] }

// ProblemOf builds the problem details a client sees for err. Errors without a code become a bare
// "Internal error." so that no internal detail leaks.
func ProblemOf(r *http.Request, err error) Problem {
	code := apperr.CodeOf(err)
	status := statusOf[code]
	p := Problem{
		Type:   ProblemType(code),
		Title:  statusText(status),
		Status: status,
		Detail: apperr.MessageOf(err),
		Code:   code,
		Errors: apperr.FieldsOf(err),
	}
	if r != nil {
		p.Instance = r.URL.Path
	}
	return p
}

func statusText(status int) string {
	if status == StatusClientClosed {
		return "Client Closed Request"
	}
	return http.StatusText(status)
}

// WriteError writes err as problem+json. Unauthorized answers carry a Bearer challenge.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(r, err)
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="marquee"`)
	}
	if p.Status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1") // a dependency is away: a retry soon is likely to work
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// WriteJSON writes v as a JSON answer with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
