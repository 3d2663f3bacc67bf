package searchapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/pkg/shardwire"
	"marquee/services/search"
	"marquee/services/search/searchindex"
)

// handleHealth handles "GET /healthz": the process is up.
func handleHealth() gin.HandlerFunc {
	return func(c *gin.Context) {
		httpx.WriteJSON(c.Writer, http.StatusOK, statusDTO{Status: "ok"})
	}
}

// handleReady handles "GET /readyz": the index has caught up with the stream and may take traffic. A ready
// replica that lacks something (degraded, non-nil) still answers 200, with status "degraded" and why. A
// ready answer also says whether the index holds everything the stream does now (current, from status):
// readiness stays once reached, and a caller that needs the index current (the all-in-one's first ready,
// after the catalog has published its seed) asks that.
func handleReady(log *slog.Logger, ready func(ctx context.Context) error, degraded func(ctx context.Context) string, status StatusFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := ready(c.Request.Context()); err != nil {
			if !apperr.Is(err, apperr.Unavailable) {
				log.Warn("readiness check failed", "err", err)
				err = apperr.Errorf(apperr.Unavailable, "The search index is not ready.")
			}
			httpx.Error(c, err)
			return
		}
		answer := statusDTO{Status: "ready"}
		if status != nil {
			current := status(c.Request.Context()).Current
			answer.Current = &current
		}
		if degraded != nil {
			if why := degraded(c.Request.Context()); why != "" {
				answer.Status, answer.Detail = "degraded", why
			}
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, answer)
	}
}

// handleMovieSearch handles "GET /v1/movies": search, filter, sort and facet (parameters in searchParams).
// Every answer says how current the index is, and which checkpoint it was computed at: one from the
// result cache may be older than the index, within the cache's staleness bound (its Age says how old).
// Its ETag names that answer, so 304 means the client holds the answer it would be sent.
// With min_version (<id>:<version>, repeatable or comma-separated) it first waits, up to a bound, for the
// index to hold those versions, and its index.current and Marquee-Consistent header say whether it does;
// its answer is of the index after the wait, never an older cached one; so is the answer to a request with
// Cache-Control: no-cache.
func handleMovieSearch(idx search.Searcher, d *Deps) gin.HandlerFunc {
	return movieSearch(idx, d, false)
}

// handleMergedSearch handles "POST /v1/index/search" (shardwire.SearchRoute), the gateway's: the search
// GET /v1/movies with shardwire.Header answers, its questions to the peers answered from the transcript of
// another shard's answer, the request's body.
func handleMergedSearch(idx search.Searcher, d *Deps) gin.HandlerFunc {
	return movieSearch(idx, d, true)
}

func movieSearch(idx search.Searcher, d *Deps, replayed bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		params := c.Request.URL.Query()
		delete(params, "min_version")
		merge, err := merging(c.Request, d)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		merge = merge || replayed
		ctx, transcript, err := peerTranscript(c.Request, d, merge, replayed)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		q, err := toQuery(params, merge)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		if q.FacetCounts, err = facetCounts(c.Request, merge); err != nil {
			httpx.Error(c, err)
			return
		}
		if q.Cursor, err = d.cursors.open(params, q.Cursor); err != nil {
			httpx.Error(c, err)
			return
		}
		asked, current, ok := waitFor(c, d, 0)
		if !ok {
			return
		}
		c.Header("Cache-Control", cachePolicy(d.CacheMaxAge, asked))
		if asked || wantsFresh(c.Request) {
			q.MinIndexVersion = computedNow
		}
		if !asked && holdsCurrent(idx, c.Request) {
			c.Header("ETag", c.GetHeader("If-None-Match"))
			c.Status(http.StatusNotModified)
			return
		}
		res, err := idx.Search(ctx, q)
		if err != nil {
			c.Writer.Header().Del("Cache-Control")
			httpx.Error(c, err)
			return
		}
		sign := func(inner string) string { return d.cursors.sign(params, inner) }
		res.NextCursor = sign(res.NextCursor)
		if d.Status != nil {
			st := d.Status(c.Request.Context())
			res.Index.Lag, res.Index.Current = st.Lag, st.Current && res.Index.Age == 0
			if st.Version > res.Index.Version { // a cached answer of an older checkpoint: that much further behind
				res.Index.Lag += st.Version - res.Index.Version
				res.Index.Current = false
			}
		}
		if asked {
			res.Index.Current = current
		} else {
			setAge(c, res.Index.Age)
			etag := listETag(res.Index.Version, c.Request)
			c.Header("ETag", etag)
			if c.GetHeader("If-None-Match") == etag {
				c.Status(http.StatusNotModified)
				return
			}
		}
		out := fromResult(res, merge, sign)
		if transcript != nil && out.Merge != nil {
			out.Merge.Asked, _ = transcript.Asked()
			if !replayed && transcript.Len() > 0 {
				if out.Merge.Transcript, err = json.Marshal(transcript); err != nil {
					httpx.Error(c, err)
					return
				}
			}
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, out)
	}
}

// peerTranscript is the context of a shard's search to merge: one that records what it asks its peers
// (shardwire.Result.Transcript), or, replayed, answers them from the transcript r's body holds. Not a
// merge's, or not a shard's: r's context as it is.
func peerTranscript(r *http.Request, d *Deps, merge, replayed bool) (context.Context, *searchindex.Transcript, error) {
	ctx := r.Context()
	if !merge || d.Answer == nil {
		return ctx, nil, nil
	}
	if !replayed {
		t := searchindex.RecordPeers()
		return searchindex.WithTranscript(ctx, t), t, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, shardwire.MaxTranscript+1))
	if err != nil || len(body) > shardwire.MaxTranscript {
		return nil, nil, apperr.Errorf(apperr.Invalid, "The transcript is not readable or is too long.")
	}
	t, err := searchindex.ReplayPeers(body)
	if err != nil {
		return nil, nil, apperr.Errorf(apperr.Invalid, "The body must be a shard's transcript of this search: %v.", err)
	}
	return searchindex.WithTranscript(ctx, t), t, nil
}

// merging reports whether r is the gateway's, to merge with other shards' answers (see shardwire): only a
// request with the internal token may ask so.
func merging(r *http.Request, d *Deps) (bool, error) {
	v := r.Header.Get(shardwire.Header)
	switch {
	case v == "":
		return false, nil
	case d.InternalToken != "" && !httpx.InternalTokenValid(r, d.InternalToken):
		return false, apperr.Errorf(apperr.Unauthorized, "The %s header is for the services of the deployment only.", shardwire.Header)
	case v != "1":
		return false, apperr.Errorf(apperr.Invalid, "The %s header must be 1.", shardwire.Header)
	}
	return true, nil
}

// facetCounts reads a merge's question for the counts of facet values (shardwire.CountHeader).
func facetCounts(r *http.Request, merge bool) (map[string][]string, error) {
	raw := r.Header.Get(shardwire.CountHeader)
	if raw == "" {
		return nil, nil
	}
	var counts map[string][]string
	n := 0
	err := json.Unmarshal([]byte(raw), &counts)
	for _, vals := range counts {
		n += len(vals)
	}
	if !merge || err != nil || n > shardwire.MaxCounts {
		return nil, apperr.Errorf(apperr.Invalid, "The %s header must go with %s and be an object of facet names to at most %d values in all.",
			shardwire.CountHeader, shardwire.Header, shardwire.MaxCounts)
	}
	return counts, nil
}

// handleSuggest handles "GET /v1/suggest": autocompletion of titles and people with ?q=&limit=.
func handleSuggest(idx search.Searcher, d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, err := toSuggestQuery(c.Request.URL.Query())
		if err != nil {
			httpx.Error(c, err)
			return
		}
		ss, err := idx.Suggest(c.Request.Context(), q)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Header("Cache-Control", cachePolicy(d.CacheMaxAge, false))
		httpx.WriteJSON(c.Writer, http.StatusOK, fromSuggestions(ss))
	}
}

// handleMovieGet handles "GET /v1/movies/:id": one movie, with its version as ETag: it is read from the
// index as it is (never from the result cache), so the tag changes exactly when the movie does. With
// min_version=N it first waits, up to a bound, for the index to hold version N or later, then answers with
// "index" and the Marquee-Consistent header saying whether it does.
func handleMovieGet(idx search.Searcher, d *Deps) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			httpx.Error(c, apperr.InvalidFields("The movie id is not valid.", map[string]string{"id": "must be a positive integer"}))
			return
		}
		asked, current, ok := waitFor(c, d, id)
		if !ok {
			return
		}
		m, err := idx.Movie(c.Request.Context(), id)
		if err == nil {
			c.Header("Cache-Control", cachePolicy(d.CacheMaxAge, asked))
		}
		if asked && err == nil {
			st := search.IndexStatus{Current: true}
			if d.Status != nil {
				st = d.Status(c.Request.Context())
			}
			c.Header("ETag", `"`+strconv.FormatInt(m.Version, 10)+`"`)
			httpx.WriteJSON(c.Writer, http.StatusOK, movieReadDTO{Movie: fromMovie(m),
				Index: &indexDTO{Version: st.Version, Lag: st.Lag, Current: current}})
			return
		}
		if err != nil {
			httpx.Error(c, err)
			return
		}
		etag := `"` + strconv.FormatInt(m.Version, 10) + `"`
		c.Header("ETag", etag)
		if c.GetHeader("If-None-Match") == etag {
			c.Status(http.StatusNotModified)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, fromMovie(m))
	}
}
