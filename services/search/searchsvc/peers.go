package searchsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

// httpPeers are the search services of the catalog's other shards, asked over HTTP (POST
// /v1/index/peer/each, or /v1/index/peer for one question, with the deployment's internal token) what a
// search of this shard must know of the whole catalog.
type httpPeers struct {
	urls   []string
	token  string
	own    string // what this shard holds: no peer may hold it too
	client *http.Client
	single sync.Map         // the peers (by URL) of a version without the route of several questions, and when each said so
	now    func() time.Time // the clock of single
}

// singleFor is how long a peer that knew no route of several questions is asked one at a time: in a
// rolling upgrade it is soon of the new version, and asked several at once again.
const singleFor = time.Minute

// peerTimeout bounds a request of one question to a peer; a request of several has peerTimeout/8 more for
// each other question, which the peer answers one after another.
const peerTimeout = 5 * time.Second

func newHTTPPeers(urls []string, token, own string) *httpPeers {
	// Every search asks each peer a few round trips: the connections are kept, as many as searches run.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	return &httpPeers{urls: urls, token: token, own: own, client: &http.Client{Transport: transport}, now: time.Now}
}

// Ask implements searchindex.Peers: every peer at once.
func (p *httpPeers) Ask(ctx context.Context, q searchindex.PeerQuestion) ([]searchindex.PeerAnswer, error) {
	answers, err := p.AskEach(ctx, []searchindex.PeerQuestion{q})
	if err != nil {
		return nil, err
	}
	return answers[0], nil
}

// AskEach implements searchindex.EachAsker: every peer at once, each asked every question in one request
// (or, a peer of a version without the route, one request a question).
func (p *httpPeers) AskEach(ctx context.Context, qs []searchindex.PeerQuestion) ([][]searchindex.PeerAnswer, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	bodies := make([]json.RawMessage, len(qs))
	for i, q := range qs {
		in := searchapi.PeerQuestionBody{PeerQuestion: q}
		if q.Query != nil {
			b, err := json.Marshal(q.Query)
			if err != nil {
				return nil, fmt.Errorf("encode the question's query: %w", err)
			}
			in.Query = b
		}
		var err error
		if bodies[i], err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	byPeer := make([][]searchindex.PeerAnswer, len(p.urls))
	g, gctx := errgroup.WithContext(ctx)
	for i, u := range p.urls {
		g.Go(func() (err error) {
			byPeer[i], err = p.askPeer(gctx, u, bodies)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Another shard of the catalog did not answer.")
	}
	// A peer list that names a shard twice, this one, or a service of every movie would count movies twice.
	seen := map[string]bool{p.own: true}
	for i, as := range byPeer {
		held := as[0].Contents // every answer of a peer says the same
		if held == "" || seen[held] || slices.ContainsFunc(as, func(a searchindex.PeerAnswer) bool { return a.Contents != held }) {
			return nil, apperr.Errorf(apperr.Unavailable, "Peer %s holds %q, which another shard holds, or every movie: the peers must be the other partitions' services.", p.urls[i], held)
		}
		seen[held] = true
	}
	answers := make([][]searchindex.PeerAnswer, len(qs))
	for k := range qs {
		answers[k] = make([]searchindex.PeerAnswer, len(p.urls))
		for i := range p.urls {
			answers[k][i] = byPeer[i][k]
		}
	}
	return answers, nil
}

// askPeer is the answers of the peer at base to the encoded questions: as many at once as a request
// holds, or one a request where there is one question or the peer does not know the route of several.
func (p *httpPeers) askPeer(ctx context.Context, base string, questions []json.RawMessage) ([]searchindex.PeerAnswer, error) {
	answers := make([]searchindex.PeerAnswer, 0, len(questions))
	for rest := questions; len(rest) > 0; {
		n := 1
		if !p.asksSingly(base) {
			for size := len(rest[0]) + 2; n < len(rest) && size+len(rest[n])+1 <= searchapi.MaxPeerQuestions; n++ {
				size += len(rest[n]) + 1
			}
		}
		if n > 1 {
			body, err := json.Marshal(rest[:n])
			if err != nil {
				return nil, err
			}
			var got []searchindex.PeerAnswer
			status, err := p.post(ctx, base+searchapi.PeerEachRoute, body, n, &got)
			if status == http.StatusNotFound {
				p.single.Store(base, p.now()) // an older version: asked one question at a time for a while
				continue
			}
			if err == nil && len(got) != n {
				err = fmt.Errorf("peer %s answered %d of %d questions", base, len(got), n)
			}
			if err != nil {
				return nil, err
			}
			answers, rest = append(answers, got...), rest[n:]
			continue
		}
		var a searchindex.PeerAnswer
		if _, err := p.post(ctx, base+searchapi.PeerRoute, rest[0], 1, &a); err != nil {
			return nil, err
		}
		answers, rest = append(answers, a), rest[1:]
	}
	return answers, nil
}

// asksSingly reports whether the peer at base is asked one question a request: it knew no route of several
// less than singleFor ago.
func (p *httpPeers) asksSingly(base string) bool {
	since, ok := p.single.Load(base)
	return ok && p.now().Sub(since.(time.Time)) < singleFor
}

// post posts body, of n questions, to url and decodes the answer into out; the status is the peer's, or 0.
func (p *httpPeers) post(ctx context.Context, url string, body []byte, n int, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, peerTimeout+time.Duration(n-1)*peerTimeout/8)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set(httpx.InternalTokenHeader, p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("peer %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		err := fmt.Errorf("peer %s answered %d: %s", url, resp.StatusCode, strings.TrimSpace(string(detail)))
		if resp.StatusCode == http.StatusBadRequest {
			err = fmt.Errorf("%w: %w", searchindex.ErrQuestionRefused, err)
		}
		return resp.StatusCode, err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("peer %s: %w", url, err)
	}
	return resp.StatusCode, nil
}

// peerURLs are the configured peers' base URLs.
func (c *Config) peerURLs() []string {
	var out []string
	for _, u := range strings.Split(c.Peers, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}
