package catalogapi

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/catalog"
)

// movieRequest is the body of POST and PUT: the writable fields. PUT replaces all of them.
type movieRequest struct {
	Title          string   `json:"title"`
	Year           *int     `json:"year"`
	Directors      []string `json:"directors"`
	Cast           []string `json:"cast"`
	Genres         []string `json:"genres"`
	Overview       string   `json:"overview"`
	RuntimeMinutes *int     `json:"runtime_minutes"`
	Rating         *float64 `json:"rating"`
	Votes          *int64   `json:"votes"`
	Popularity     *float64 `json:"popularity"`
}

func toMovieInput(r movieRequest) catalog.MovieInput {
	return catalog.MovieInput{
		Title: r.Title, Year: r.Year, Directors: r.Directors, Cast: r.Cast, Genres: r.Genres,
		Overview: r.Overview, RuntimeMinutes: r.RuntimeMinutes, Rating: r.Rating, Votes: r.Votes,
		Popularity: r.Popularity,
	}
}

// decodeMovie reads and validates a movie body.
func decodeMovie(c *gin.Context) (catalog.MovieInput, error) {
	var req movieRequest
	if err := httpx.DecodeJSON(c.Request, 0, &req); err != nil {
		return catalog.MovieInput{}, err
	}
	in := toMovieInput(req)
	if err := in.Validate(); err != nil {
		return catalog.MovieInput{}, err
	}
	return in, nil
}

// writeMovie answers with a movie in its wire form and its version as the ETag.
func writeMovie(c *gin.Context, status int, m *catalog.Movie) {
	c.Header("ETag", etag(m.Version))
	httpx.WriteJSON(c.Writer, status, catalog.EventMovie(m))
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// movieID parses the :id parameter; ids are positive.
func movieID(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.InvalidFields("The movie id is not valid.", map[string]string{"id": "must be a positive integer"})
	}
	return id, nil
}

// ifMatch returns the version named by If-Match: 0 without the header or with "*" (any current version).
// It accepts "3", 3 and W/"3"; anything else, including a list, is a 400.
func ifMatch(c *gin.Context) (int64, error) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	v := strings.TrimPrefix(h, "W/")
	v = strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, apperr.Errorf(apperr.Invalid, `If-Match must name one version, like "3".`)
	}
	return n, nil
}

// handleMovieGet handles "GET /v1/movies/:id".
func handleMovieGet(store Store) gin.HandlerFunc {
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

// handleMovieCreate handles "POST /v1/movies".
func handleMovieCreate(store Store, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		in, err := decodeMovie(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		m, err := store.CreateMovie(c.Request.Context(), in)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		changed()
		c.Header("Location", "/v1/movies/"+strconv.FormatInt(m.ID, 10))
		writeMovie(c, http.StatusCreated, m)
	}
}

// handleMovieUpdate handles "PUT /v1/movies/:id".
func handleMovieUpdate(store Store, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, version, err := target(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		in, err := decodeMovie(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		m, err := store.UpdateMovie(c.Request.Context(), id, version, in)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		changed()
		writeMovie(c, http.StatusOK, m)
	}
}

// handleMovieDelete handles "DELETE /v1/movies/:id".
func handleMovieDelete(store Store, changed func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, version, err := target(c)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		v, err := store.DeleteMovie(c.Request.Context(), id, version)
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

// target reads the id and If-Match of a write.
func target(c *gin.Context) (id, version int64, err error) {
	if id, err = movieID(c); err != nil {
		return 0, 0, err
	}
	if version, err = ifMatch(c); err != nil {
		return 0, 0, err
	}
	return id, version, nil
}

type healthResponse struct {
	Status string `json:"status"`
}

// handleHealthz handles "GET /healthz".
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) {
		httpx.WriteJSON(c.Writer, http.StatusOK, healthResponse{Status: "ok"})
	}
}

// handleReadyz handles "GET /readyz".
func handleReadyz(ready func(context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := ready(c.Request.Context()); err != nil {
			if !apperr.Is(err, apperr.Unavailable) {
				err = apperr.Errorf(apperr.Unavailable, "Not ready: %s.", apperr.MessageOf(err))
			}
			httpx.Error(c, err)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, healthResponse{Status: "ready"})
	}
}
