package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The kinds of recorded writes.
const (
	opCreate   = "create"
	opUpdate   = "update"    // PUT without If-Match
	opUpdateIf = "update-if" // PUT with If-Match
	opDelete   = "delete"    // DELETE without If-Match
	opDeleteIf = "delete-if" // DELETE with If-Match
)

// op is one recorded write request and its answer.
type op struct {
	Kind    string    `json:"kind"`
	Client  int       `json:"client"`
	ID      int64     `json:"id,omitempty"` // the target; for a create, the id it returned
	Token   string    `json:"token"`        // the unique token in the movie's title
	Title   string    `json:"title,omitempty"`
	IfMatch int64     `json:"if_match,omitempty"`
	IdemKey string    `json:"idempotency_key,omitempty"`
	Attempt int       `json:"attempt,omitempty"` // retries of a create under the same Idempotency-Key
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Status  int       `json:"status"`            // 0: no answer (transport error)
	Version int64     `json:"version,omitempty"` // the version the answer named (ETag or body)
	Err     string    `json:"err,omitempty"`
}

// The outcome of a write, as a Jepsen history would say: ok (acknowledged), fail (certainly not applied) or
// info (unknown: no answer, or a 5xx that may have come after the commit).
type outcome int

const (
	outcomeOK outcome = iota
	outcomeFail
	outcomeInfo
)

func (o *op) outcome() outcome {
	switch {
	case o.Status >= 200 && o.Status < 300:
		return outcomeOK
	case o.Status == 0 || o.Status >= 500 || o.Status == http.StatusRequestTimeout:
		return outcomeInfo
	default:
		return outcomeFail
	}
}

// history is every write of a scenario, in the order the answers came.
type history struct {
	mu  sync.Mutex
	ops []op
	out io.Writer // a JSON line per op, for evidence; may be nil
}

func (h *history) add(o op) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ops = append(h.ops, o)
	if h.out != nil {
		b, _ := json.Marshal(o)
		_, _ = h.out.Write(append(b, '\n'))
	}
}

func (h *history) snapshot() []op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]op(nil), h.ops...)
}

// client is an admin of the gateway.
type client struct {
	http    *http.Client
	gateway string
	catalog string // read back versions after a 412
	search  string
	token   string
}

func newClient(c *cluster, conns int) *client {
	tr := &http.Transport{MaxIdleConns: conns * 2, MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: 30 * time.Second}
	return &client{
		http:    &http.Client{Transport: tr, Timeout: 10 * time.Second},
		gateway: c.url(c.gatewayPort), catalog: c.url(c.catalogPort), search: c.url(c.searchPort),
	}
}

// login gets an admin token through the gateway.
func (cl *client) login(ctx context.Context, user, password string) error {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	status, _, b, err := cl.do(ctx, http.MethodPost, cl.gateway+"/v1/auth/token", body, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("login: %d %s", status, b)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("login: no token in %s", b)
	}
	cl.token = tok.AccessToken
	return nil
}

func (cl *client) do(ctx context.Context, method, url string, body []byte, hdr map[string]string) (int, http.Header, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.token != "" {
		req.Header.Set("Authorization", "Bearer "+cl.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, err // the status alone is not an answer we can trust
	}
	return resp.StatusCode, resp.Header, b, nil
}

// movieBody is the JSON of a create or update.
func movieBody(title string, n int) []byte {
	year := 1950 + n%70
	rating := float64(n%100) / 10
	b, _ := json.Marshal(map[string]any{
		"title": title, "year": year, "genres": []string{[]string{"Drama", "Comedy", "Sci-Fi", "Western"}[n%4]},
		"directors": []string{"Faults Director"}, "overview": "Written by the fault-injection suite.", "rating": rating,
	})
	return b
}

// write sends one recorded write and fills in its answer.
func (cl *client) write(ctx context.Context, o *op, n int) {
	var method, url string
	var body []byte
	hdr := map[string]string{}
	switch o.Kind {
	case opCreate:
		method, url, body = http.MethodPost, cl.gateway+"/v1/movies", movieBody(o.Title, n)
		if o.IdemKey != "" {
			hdr["Idempotency-Key"] = o.IdemKey
		}
	case opUpdate, opUpdateIf:
		method, url, body = http.MethodPut, cl.gateway+"/v1/movies/"+strconv.FormatInt(o.ID, 10), movieBody(o.Title, n)
	case opDelete, opDeleteIf:
		method, url = http.MethodDelete, cl.gateway+"/v1/movies/"+strconv.FormatInt(o.ID, 10)
	}
	if o.IfMatch > 0 {
		hdr["If-Match"] = `"` + strconv.FormatInt(o.IfMatch, 10) + `"`
	}
	o.Start = time.Now()
	status, h, b, err := cl.do(ctx, method, url, body, hdr)
	o.End = time.Now()
	o.Status = status
	if err != nil {
		o.Err = err.Error()
		return
	}
	if status >= 300 {
		o.Err = strings.TrimSpace(string(b))
		if len(o.Err) > 200 {
			o.Err = o.Err[:200]
		}
		return
	}
	o.Version = etagVersion(h.Get("ETag"))
	if len(b) > 0 {
		var m struct {
			ID      int64 `json:"id"`
			Version int64 `json:"version"`
		}
		if json.Unmarshal(b, &m) == nil {
			if o.Kind == opCreate {
				o.ID = m.ID
			}
			if m.Version > 0 {
				o.Version = m.Version
			}
		}
	}
}

func etagVersion(etag string) int64 {
	etag = strings.TrimPrefix(strings.TrimSpace(etag), "W/")
	v, _ := strconv.ParseInt(strings.Trim(etag, `"`), 10, 64)
	return v
}

// indexed is what the search service holds of a movie: found false is a 404 (never indexed, or deleted).
type indexed struct {
	found   bool
	version int64
	title   string
}

// indexedMovie reads a movie from the search service.
func (cl *client) indexedMovie(ctx context.Context, id int64) (indexed, error) {
	status, _, b, err := cl.do(ctx, http.MethodGet, cl.search+"/v1/movies/"+strconv.FormatInt(id, 10), nil, nil)
	return decodeIndexed(status, b, err)
}

func decodeIndexed(status int, b []byte, err error) (indexed, error) {
	switch {
	case err != nil:
		return indexed{}, err
	case status == http.StatusNotFound:
		return indexed{}, nil
	case status != http.StatusOK:
		return indexed{}, fmt.Errorf("status %d", status)
	}
	var m struct {
		Version int64  `json:"version"`
		Title   string `json:"title"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return indexed{}, err
	}
	return indexed{found: true, version: m.Version, title: m.Title}, nil
}

// catalogVersion reads a movie's current version from the catalog (not through search, which lags).
func (cl *client) catalogVersion(ctx context.Context, id int64) (version int64, deleted bool, err error) {
	status, h, _, err := cl.do(ctx, http.MethodGet, cl.catalog+"/v1/movies/"+strconv.FormatInt(id, 10), nil, nil)
	switch {
	case err != nil:
		return 0, false, err
	case status == http.StatusNotFound:
		return 0, true, nil
	case status != http.StatusOK:
		return 0, false, fmt.Errorf("status %d", status)
	}
	return etagVersion(h.Get("ETag")), false, nil
}

// searchHit is one hit of a search.
type searchHit struct {
	ID      int64  `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
}

// fresh asks search for the index as it is, not an answer its result cache kept from before the last
// writes (cache_max_age): the checks compare the index with the database.
var fresh = map[string]string{"Cache-Control": "no-cache"}

// searchTotal is how many movies the index holds: the total of a search without text, which matches all.
func (cl *client) searchTotal(ctx context.Context) (uint64, error) {
	status, _, b, err := cl.do(ctx, http.MethodGet, cl.gateway+"/v1/movies?per_page=1", nil, fresh)
	if err != nil {
		return 0, err
	}
	if status != http.StatusOK {
		return 0, fmt.Errorf("search all: status %d", status)
	}
	var res struct {
		Total uint64 `json:"total"`
	}
	err = json.Unmarshal(b, &res)
	return res.Total, err
}

// searchText searches through the gateway.
func (cl *client) searchText(ctx context.Context, q string) ([]searchHit, error) {
	status, _, b, err := cl.do(ctx, http.MethodGet, cl.gateway+"/v1/movies?per_page=20&q="+q, nil, fresh)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("search %q: status %d", q, status)
	}
	var res struct {
		Hits []searchHit `json:"hits"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	return res.Hits, nil
}
