package searchapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/gin-gonic/gin"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchindex"
)

// PeerRoute is where a search service of one shard of the catalog answers another's questions about its
// movies (searchindex.Peers), so that each ranks as one index of every movie.
const PeerRoute = "/v1/index/peer"

// maxPeerQuestion bounds a question's body: a query of many expansions is tens of kilobytes.
const maxPeerQuestion = 4 << 20

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
			if q.Query, err = query.ParseQuery(in.Query); err != nil {
				httpx.Error(c, apperr.Errorf(apperr.Invalid, "The question's query is not a Bleve query: %v.", err))
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
