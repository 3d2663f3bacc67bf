package searchapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchindex"
)

// PeerRoute is where a search service of one shard of the catalog answers another's questions about its
// movies (searchindex.Peers), so that each ranks as one index of every movie.
const PeerRoute = "/v1/index/peer"

// maxPeerQuestion bounds a question's body: a query of many expansions is tens of kilobytes.
const maxPeerQuestion = 1 << 20

// maxQueryDepth bounds the nesting of a question's query: a shard's own are a few levels deep.
const maxQueryDepth = 32

// PeerQuestionBody is a searchindex.PeerQuestion on the wire, its query as Bleve's query JSON.
type PeerQuestionBody struct {
	searchindex.PeerQuestion
	Query json.RawMessage `json:"query,omitempty"`
}

// handlePeer handles "POST /v1/index/peer": the answer of this service's own movies to a question of
// another shard's search.
func handlePeer(answer func(context.Context, searchindex.PeerQuestion) (searchindex.PeerAnswer, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxPeerQuestion+1))
		if err != nil || len(body) > maxPeerQuestion {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The question is not readable or is too long."))
			return
		}
		var in PeerQuestionBody
		if err := json.Unmarshal(body, &in); err != nil {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The question is not valid JSON: %v.", err))
			return
		}
		q := in.PeerQuestion
		if len(in.Query) > 0 {
			if jsonDepth(in.Query) > maxQueryDepth {
				httpx.Error(c, apperr.Errorf(apperr.Invalid, "The question's query nests too deep."))
				return
			}
			if q.Query, err = parsePeerQuery(in.Query); err != nil {
				httpx.Error(c, err)
				return
			}
		}
		a, err := answer(c.Request.Context(), q)
		if err != nil {
			httpx.Error(c, err)
			return
		}
		httpx.WriteJSON(c.Writer, http.StatusOK, a)
	}
}

// jsonDepth is how deep objects and arrays nest in valid JSON b.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
