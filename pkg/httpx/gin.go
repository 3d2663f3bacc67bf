package httpx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
)

// NewEngine returns a gin engine with Marquee's recovery, request logging and problem+json answers for
// unknown routes and methods, then the middleware mw (e.g. Metrics.Middleware) on every route. Services add
// their routes to it and hand it out as an http.Handler.
func NewEngine(log *slog.Logger, mw ...gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(RequestLog(log), Recover(log), noSniff)
	e.Use(mw...)
	e.NoRoute(func(c *gin.Context) {
		Error(c, apperr.Errorf(apperr.NotFound, "No route for %s %s.", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		Error(c, apperr.Errorf(apperr.MethodNotAllowed, "Method %s is not allowed on %s.", c.Request.Method, c.Request.URL.Path))
	})
	return e
}

// noSniff tells browsers to take every answer for the media type it declares (no content sniffing).
func noSniff(c *gin.Context) {
	c.Header("X-Content-Type-Options", "nosniff")
	c.Next()
}

// ServeHEAD answers HEAD as GET on every route of h (RFC 9110 §9.3.2): the handler runs as for GET and the
// server sends the headers without the body.
func ServeHEAD(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			r = r.WithContext(r.Context()) // a shallow copy: the server keeps the HEAD request it sent
			r.Method = http.MethodGet
			w = headWriter{w}
		}
		h.ServeHTTP(w, r)
	})
}

// headWriter drops the body of a HEAD answer, which net/http drops too; this also keeps recorders in tests
// and in-process callers from seeing one.
type headWriter struct{ http.ResponseWriter }

func (w headWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Error writes err as problem+json, aborts the chain and records err for the request log. A server-side
// failure of a request whose client has gone away (its context cancelled) is reported as ClientClosed
// (499), so that it is neither logged as an error nor counted as a 5xx.
func Error(c *gin.Context, err error) {
	if status := StatusOf(err); status >= 500 && errors.Is(c.Request.Context().Err(), context.Canceled) {
		err = apperr.Wrap(err, apperr.ClientClosed, "The client closed the request.")
	}
	_ = c.Error(err)
	WriteError(c.Writer, c.Request, err)
	c.Abort()
}

// Recover turns a panic in a handler into a logged 500 problem, never a dropped connection.
func Recover(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v)
				}
				log.Error("panic", "method", c.Request.Method, "path", c.Request.URL.Path, "panic", v, "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					WriteError(c.Writer, c.Request, errors.New("panic"))
				}
				c.Abort()
			}
		}()
		c.Next()
	}
}

// RequestLog logs one line per request at debug level, and internal errors (500) at error level with their
// cause, which clients never see. Other 5xx (a part not ready yet, a backend away) are expected states that
// their own code reports.
func RequestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		attrs := []any{"method", c.Request.Method, "path", c.Request.URL.Path, "status", status, "took", time.Since(start)}
		if status == http.StatusInternalServerError {
			log.Error("request", append(attrs, "error", c.Errors.String())...)
			return
		}
		log.Debug("request", attrs...)
	}
}
