package searchapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/sync/singleflight"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchindex"
)

// PeerRoute is where a search service of one shard of the catalog answers another's questions about its
// movies (searchindex.Peers), so that each ranks as one index of every movie.
const PeerRoute = "/v1/index/peer"

// PeerEachRoute is where a shard answers several questions at once (searchindex.EachAsker): a JSON array
// of questions as PeerRoute reads them, answered by the array of their answers. A service of an older
// version answers it 404, and is then asked one question at a time for a while.
const PeerEachRoute = "/v1/index/peer/each"

// maxPeerQuestion bounds a question's body: a query of many expansions is tens of kilobytes.
const maxPeerQuestion = 1 << 20

// MaxPeerQuestions bounds the body of several questions: an asker sends more in several requests.
const MaxPeerQuestions = 8 << 20

// maxQueryDepth bounds the nesting of a question's query: a shard's own are a few levels deep.
const maxQueryDepth = 32

// PeerQuestionBody is a searchindex.PeerQuestion on the wire, its query as Bleve's query JSON.
type PeerQuestionBody struct {
	searchindex.PeerQuestion
	Query json.RawMessage `json:"query,omitempty"`
}

// handlePeer handles "POST /v1/index/peer": the answer of this service's own movies to a question of
// another shard's search.
func handlePeer(shared *peerAnswers, answer func(context.Context, searchindex.PeerQuestion) (searchindex.PeerAnswer, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxPeerQuestion+1))
		if err != nil || len(body) > maxPeerQuestion {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The question is not readable or is too long."))
			return
		}
		out, err := shared.answer(c.Request.Context(), body, func(ctx context.Context) ([]byte, error) {
			if jsonDepth(body) > maxQueryDepth+1 {
				return nil, apperr.Errorf(apperr.Invalid, "The question's query nests too deep.")
			}
			q, err := parsePeerQuestion(body)
			if err != nil {
				return nil, err
			}
			return answerJSON(ctx, answer, q)
		})
		if err != nil {
			httpx.Error(c, err)
			return
		}
		c.Data(http.StatusOK, "application/json", out)
	}
}

// handlePeerEach handles "POST /v1/index/peer/each": the answers of this service's own movies to several
// questions of another shard's search, in their order, each shared as handlePeer shares it. One bad
// question refuses them all, before any is answered.
func handlePeerEach(shared *peerAnswers, answer func(context.Context, searchindex.PeerQuestion) (searchindex.PeerAnswer, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, MaxPeerQuestions+1))
		if err != nil || len(body) > MaxPeerQuestions {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The questions are not readable or are too long."))
			return
		}
		if jsonDepth(body) > maxQueryDepth+2 {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "A question's query nests too deep."))
			return
		}
		var raw []jsontext.Value
		if err := jsonv2.Unmarshal(body, &raw); err != nil || len(raw) == 0 || len(raw) > searchindex.MaxEach {
			httpx.Error(c, apperr.Errorf(apperr.Invalid, "The body must be an array of 1 to %d questions.", searchindex.MaxEach))
			return
		}
		qs := make([]searchindex.PeerQuestion, len(raw))
		for i, r := range raw {
			if qs[i], err = parsePeerQuestion(r); err == nil {
				err = qs[i].Check()
			}
			if err != nil {
				httpx.Error(c, err)
				return
			}
		}
		out := make([]jsontext.Value, len(qs))
		for i, q := range qs {
			out[i], err = shared.answer(c.Request.Context(), raw[i], func(ctx context.Context) ([]byte, error) {
				return answerJSON(ctx, answer, q)
			})
			if err != nil {
				httpx.Error(c, err)
				return
			}
		}
		c.JSON(http.StatusOK, out)
	}
}

// answerJSON is answer's answer to q, encoded.
func answerJSON(ctx context.Context, answer func(context.Context, searchindex.PeerQuestion) (searchindex.PeerAnswer, error), q searchindex.PeerQuestion) ([]byte, error) {
	a, err := answer(ctx, q)
	if err != nil {
		return nil, err
	}
	return json.Marshal(a)
}

// peerAnswers shares an answer among the shards that ask the same question: the shards of one search plan
// it alike, so each peer is asked each question by every other shard, milliseconds apart. An answer is
// kept, for a second, for the index's checkpoint it was computed at (a write applied since is a new
// checkpoint, which asks anew); questions asked at once are answered once.
type peerAnswers struct {
	idx    versioned // nil: nothing is shared
	mu     sync.Mutex
	kept   map[string]keptAnswer
	flight singleflight.Group
}

type keptAnswer struct {
	body []byte
	at   time.Time
}

const (
	peerAnswerLife    = time.Second
	maxKeptAnswers    = 4096
	peerAnswerTimeout = 10 * time.Second // as long as a shard waits for its peers
)

func newPeerAnswers(idx any) *peerAnswers {
	v, _ := idx.(versioned)
	return &peerAnswers{idx: v, kept: map[string]keptAnswer{}}
}

// answer is the encoded answer to the question body, shared or computed by compute.
func (p *peerAnswers) answer(ctx context.Context, body []byte, compute func(context.Context) ([]byte, error)) ([]byte, error) {
	if p.idx == nil {
		return compute(ctx)
	}
	checkpoint, err := p.idx.Checkpoint()
	if err != nil {
		return compute(ctx)
	}
	sum := sha256.Sum256(body)
	key := string(sum[:]) + strconv.FormatUint(checkpoint, 10)
	now := time.Now()
	if out, ok := p.fresh(key, now); ok {
		return out, nil
	}
	v, err, _ := p.flight.Do(key, func() (any, error) {
		// An asker that found nothing kept may come just after the flight that kept the answer: looking
		// again here, where flights of one key do not overlap, it takes that answer.
		if out, ok := p.fresh(key, time.Now()); ok {
			return out, nil
		}
		// The answer of every asker waiting on it, so not the first asker's to cancel; bounded all the same.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), peerAnswerTimeout)
		defer cancel()
		out, err := compute(cctx)
		if err == nil {
			p.keep(key, out, now)
		}
		return out, err
	})
	out, _ := v.([]byte)
	return out, err
}

// fresh is the answer kept for key, if it is still fresh at now.
func (p *peerAnswers) fresh(key string, now time.Time) ([]byte, bool) {
	p.mu.Lock()
	k, ok := p.kept[key]
	p.mu.Unlock()
	if ok && now.Sub(k.at) < peerAnswerLife {
		return k.body, true
	}
	return nil, false
}

func (p *peerAnswers) keep(key string, body []byte, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.kept) >= maxKeptAnswers {
		for k, a := range p.kept {
			if at.Sub(a.at) >= peerAnswerLife {
				delete(p.kept, k)
			}
		}
		if len(p.kept) >= maxKeptAnswers {
			clear(p.kept)
		}
	}
	p.kept[key] = keptAnswer{body: body, at: at}
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
