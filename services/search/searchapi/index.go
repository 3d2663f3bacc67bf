package searchapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/events"
	"marquee/pkg/httpx"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// Deps are the search API's collaborators beyond the index.
type Deps struct {
	// Ready reports whether the replica may take traffic (GET /readyz); nil means always.
	Ready func(ctx context.Context) error
	// Degraded says what a ready replica lacks (its lag, its NATS connection), which GET /readyz reports
	// without leaving service; "" or nil: nothing.
	Degraded func(ctx context.Context) string
	// Status fills the lag of every search answer; nil: the index counts as current.
	Status StatusFunc
	// Wait blocks until the index holds every movie of want at its version or a later one, or ctx is done,
	// and reports whether it does (read-your-writes); nil: min_version is refused.
	Wait func(ctx context.Context, want map[int64]int64) bool
	// MaxWait bounds Wait; 0 means 2 s.
	MaxWait time.Duration
	// CacheMaxAge is the index's staleness bound (searchindex.Options.CacheMaxAge): the public reads tell
	// shared caches to keep their answers that long (Cache-Control s-maxage), and no longer.
	CacheMaxAge time.Duration
	// Versions pages through the versions the index holds (GET /v1/index/versions); nil: no such route.
	Versions func(ctx context.Context, afterID, untilID int64, limit int) ([]searchindex.MovieVersion, int64, error)
	// Partition and Partitions say, of a service that holds one partition of a partitioned stream (a
	// shard), which: its versions say so, as the movies of the others are not expected of it. Partitions
	// 0: it holds every movie.
	Partition, Partitions int
	// Answer answers another shard's question about this service's movies (POST /v1/index/peer): see
	// searchindex.Peers. nil: no such route.
	Answer func(ctx context.Context, q searchindex.PeerQuestion) (searchindex.PeerAnswer, error)
	// Contents names what the index holds (searchindex.Options.Contents): a replica that asks for a
	// snapshot of other contents is refused before the copy is made.
	Contents string
	// Rebuild starts a rebuild of the index from the stream (POST /v1/index/rebuild) and RebuildStatus
	// reports on it (GET /v1/index/rebuild); nil: no such routes.
	Rebuild       func() (search.RebuildStatus, error)
	RebuildStatus func() search.RebuildStatus
	// Snapshot sends a snapshot of the index (GET /v1/index/snapshot) to what begin returns, which it calls
	// once the snapshot is reserved; an error before then says why none can be sent now. nil: no such route.
	Snapshot func(ctx context.Context, begin func() io.Writer) error
	// HTTPMetrics observes every request; Metrics serves GET /metrics. nil: none.
	HTTPMetrics *httpx.Metrics
	Metrics     http.Handler
	// InternalToken, if set, must be in the httpx.InternalTokenHeader of requests to the index's endpoints
	// (rebuild, versions, snapshot): only the gateway, the catalog's reconciler and new replicas call them.
	InternalToken string
	// CursorKey signs the search cursors handed out (HMAC-SHA256); replicas that share clients need the
	// same key. Empty: a random key, so cursors are good for this process only.
	CursorKey []byte

	cursors cursorSigner
}

type versionsDTO struct {
	Versions    []versionDTO `json:"versions"`
	NextAfterID int64        `json:"next_after_id"`
	Partition   *int         `json:"partition,omitempty"` // a shard's partition, of partitions
	Partitions  int          `json:"partitions,omitempty"`
}

type versionDTO struct {
	ID      int64 `json:"id"`
	Version int64 `json:"version"`
	Deleted bool  `json:"deleted"`
}

type movieReadDTO struct {
	events.Movie
	Index *indexDTO `json:"index,omitempty"`
}

// parseMinVersions reads min_version values: "<id>:<version>", repeated or comma-separated. For a read of
// one movie, id is that movie and a bare "<version>" is allowed.
func parseMinVersions(vals []string, id int64) (map[int64]int64, error) {
	want := map[int64]int64{}
	for _, val := range vals {
		for part := range strings.SplitSeq(val, ",") {
			part = strings.TrimSpace(part)
			idStr, verStr, found := strings.Cut(part, ":")
			if !found {
				idStr, verStr = "", part
			}
			mid := id
			if idStr != "" || id == 0 {
				n, err := strconv.ParseInt(idStr, 10, 64)
				if err != nil || n <= 0 {
					return nil, apperr.InvalidFields("min_version is not valid.", map[string]string{"min_version": "must be <id>:<version> (or <version> when reading one movie)"})
				}
				mid = n
			}
			v, err := strconv.ParseInt(verStr, 10, 64)
			if err != nil || v <= 0 || (id != 0 && mid != id) {
				return nil, apperr.InvalidFields("min_version is not valid.", map[string]string{"min_version": "must be <id>:<version> (or <version> when reading one movie) with a positive version"})
			}
			want[mid] = max(want[mid], v)
		}
	}
	if len(want) > 100 {
		return nil, apperr.InvalidFields("min_version is not valid.", map[string]string{"min_version": "names at most 100 movies"})
	}
	return want, nil
}

// waitFor applies a read's min_version: it waits (bounded by d.MaxWait) for the index to hold the versions
// and sets the Marquee-Consistent header. ok is false when the read must not go on (an error was written).
func waitFor(c *gin.Context, d *Deps, id int64) (asked, current, ok bool) {
	vals, asked := c.Request.URL.Query()["min_version"]
	if !asked {
		return false, false, true
	}
	want, err := parseMinVersions(vals, id)
	if err != nil {
		httpx.Error(c, err)
		return true, false, false
	}
	if d.Wait == nil {
		httpx.Error(c, apperr.Errorf(apperr.Invalid, "This search service cannot wait for versions."))
		return true, false, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d.MaxWait)
	defer cancel()
	current = d.Wait(ctx, want)
	c.Header(httpx.ConsistentHeader, strconv.FormatBool(current))
	return true, current, true
}

// handleIndexVersions handles "GET /v1/index/versions": the (id, version, deleted) of every movie the
// index holds with an id in (after_id, until_id], at most limit of them; next_after_id continues. Internal:
// the catalog's reconciler compares it with the database.
func handleIndexVersions(d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		q := c.Request.URL.Query()
		num := func(name string, def int64) (int64, bool) {
			s := q.Get(name)
			if s == "" {
				return def, true
			}
			n, err := strconv.ParseInt(s, 10, 64)
			return n, err == nil && n >= 0
		}
		after, ok1 := num("after_id", 0)
		until, ok2 := num("until_id", 0)
		limit, ok3 := num("limit", 1000)
		if !ok1 || !ok2 || !ok3 || limit < 1 || limit > 10000 {
			httpx.Error(c, apperr.InvalidFields("The page is not valid.", map[string]string{
				"after_id": "a non-negative integer", "until_id": "a non-negative integer (0: no bound)", "limit": "1 to 10000"}))
			return
		}
		vs, next, err := d.Versions(c.Request.Context(), after, until, int(limit))
		if err != nil {
			httpx.Error(c, err)
			return
		}
		out := versionsDTO{Versions: make([]versionDTO, len(vs)), NextAfterID: next}
		if d.Partitions > 1 {
			out.Partition, out.Partitions = &d.Partition, d.Partitions
		}
		for i, v := range vs {
			out.Versions[i] = versionDTO{ID: v.ID, Version: v.Version, Deleted: v.Deleted}
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, out)
	}
}

// handleRebuildStart handles "POST /v1/index/rebuild": build a fresh index from the stream beside the live
// one and swap it in when it has caught up. 202 with the status; 409 while one runs.
func handleRebuildStart(d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		st, err := d.Rebuild()
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusAccepted, st)
	}
}

// handleRebuildStatus handles "GET /v1/index/rebuild": the state of the last (or running) rebuild.
func handleRebuildStatus(d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) { httpx.WriteJSON(c.Writer, http.StatusOK, d.RebuildStatus()) }
}

// handleSnapshot handles "GET /v1/index/snapshot": a consistent copy of the index as a tar stream (see
// searchindex.WriteSnapshot), from which a new replica starts instead of replaying the whole stream. The
// answer may take minutes for a large index, so the server's write timeout gives way to one per write: a
// replica that stops reading does not hold the snapshot for ever. A failure once the stream has begun
// breaks the connection, so that the replica sees a cut snapshot, never a short one.
func handleSnapshot(log *slog.Logger, d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		if want, asked := c.Request.URL.Query()["contents"]; asked && want[0] != d.Contents {
			httpx.Error(c, apperr.Errorf(apperr.Conflict, "This index holds %s, not %s.", describeContents(d.Contents), describeContents(want[0])))
			return
		}
		rc := http.NewResponseController(c.Writer)
		began := false
		err := d.Snapshot(c.Request.Context(), func() io.Writer {
			began = true
			_ = rc.SetWriteDeadline(time.Time{}) // the copy comes first, with nothing to write
			c.Header("Content-Type", "application/x-tar")
			c.Header("Cache-Control", "no-store")
			c.Status(http.StatusOK)
			c.Writer.WriteHeaderNow() // the copy takes a while before the first byte: the replica knows it started
			c.Writer.Flush()
			return writeWithin{w: c.Writer, rc: rc}
		})
		switch {
		case err == nil:
		case !began:
			httpx.Error(c, err)
		default:
			log.Error("snapshot not sent whole", "err", err)
			panic(http.ErrAbortHandler)
		}
	}
}

// describeContents names what an index holds.
func describeContents(c string) string {
	if c == "" {
		return "every movie"
	}
	return c
}

// snapshotWriteTimeout bounds each write of a snapshot to a replica.
const snapshotWriteTimeout = time.Minute

type writeWithin struct {
	w  io.Writer
	rc *http.ResponseController
}

func (w writeWithin) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(snapshotWriteTimeout))
	return w.w.Write(p)
}
