package searchsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"marquee/pkg/apperr"
	"marquee/pkg/httpx"
	"marquee/services/search/searchapi"
	"marquee/services/search/searchindex"
)

// httpPeers are the search services of the catalog's other shards, asked over HTTP (POST /v1/index/peer,
// with the deployment's internal token) what a search of this shard must know of the whole catalog.
type httpPeers struct {
	urls   []string
	token  string
	own    string // what this shard holds: no peer may hold it too
	client *http.Client
}

// peerTimeout bounds one question to a peer: a search asks several, one after another.
const peerTimeout = 5 * time.Second

func newHTTPPeers(urls []string, token, own string) *httpPeers {
	// Every search asks each peer a few dozen questions: the connections are kept, as many as searches run.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	return &httpPeers{urls: urls, token: token, own: own, client: &http.Client{Timeout: peerTimeout, Transport: transport}}
}

// Ask implements searchindex.Peers: every peer at once.
func (p *httpPeers) Ask(ctx context.Context, q searchindex.PeerQuestion) ([]searchindex.PeerAnswer, error) {
	in := searchapi.PeerQuestionBody{PeerQuestion: q}
	if q.Query != nil {
		b, err := json.Marshal(q.Query)
		if err != nil {
			return nil, fmt.Errorf("encode the question's query: %w", err)
		}
		in.Query = b
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	answers := make([]searchindex.PeerAnswer, len(p.urls))
	g, gctx := errgroup.WithContext(ctx)
	for i, u := range p.urls {
		g.Go(func() error {
			a, err := p.ask(gctx, u, body)
			answers[i] = a
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, apperr.Wrap(err, apperr.Unavailable, "Another shard of the catalog did not answer.")
	}
	// A peer list that names a shard twice, this one, or a service of every movie would count movies twice.
	seen := map[string]bool{p.own: true}
	for i, a := range answers {
		if a.Contents == "" || seen[a.Contents] {
			return nil, apperr.Errorf(apperr.Unavailable, "Peer %s holds %q, which another shard holds, or every movie: the peers must be the other partitions' services.", p.urls[i], a.Contents)
		}
		seen[a.Contents] = true
	}
	return answers, nil
}

func (p *httpPeers) ask(ctx context.Context, base string, body []byte) (searchindex.PeerAnswer, error) {
	var a searchindex.PeerAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+searchapi.PeerRoute, bytes.NewReader(body))
	if err != nil {
		return a, err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.token != "" {
		req.Header.Set(httpx.InternalTokenHeader, p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return a, fmt.Errorf("peer %s: %w", base, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		detail, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return a, fmt.Errorf("peer %s answered %d: %s", base, resp.StatusCode, strings.TrimSpace(string(detail)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return a, fmt.Errorf("peer %s: %w", base, err)
	}
	return a, nil
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
