package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"marquee/pkg/config"
	"marquee/pkg/ingest"
)

// importConfig configures `marquee import`, which writes through the admin API like any other client.
type importConfig struct {
	URL       string `key:"url" usage:"base URL of the Marquee gateway (host:port alone means http://host:port)"`
	Username  string `key:"username" usage:"admin username (with --password)"`
	Password  string `key:"password" usage:"admin password" secret:"true"`
	Token     string `key:"token" usage:"admin access token or API key, instead of username and password" secret:"true"`
	BatchSize int    `key:"batch_size" usage:"records sent per request (at most 10000)"`
	Progress  bool   `key:"progress" usage:"show a progress bar"`
}

func newImportCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cfg := importConfig{URL: "http://127.0.0.1:8080", BatchSize: 1000, Progress: true}
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import movies from files through the admin API",
		Long: `Import movies from JSON files through the admin API (POST /v1/imports).

A file is a JSON array or JSON Lines, gzip-compressed or not, in Marquee's own
movie format, the imdb.json seed format, or the TMDB-like format of
movies.jsonl.gz. A movie whose tmdb_id or imdb_id is already in the catalog is
updated (or left unchanged), any other is created. A bad record is reported
and never stops the rest; the exit status is 1 if any record failed.`,
		Example: `  marquee import --username admin --password "$PW" ../shared/data/movies.jsonl.gz
  MARQUEE_URL=http://marquee:8080 MARQUEE_TOKEN=mq_... marquee import movies.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			if cfg.BatchSize < 1 || cfg.BatchSize > 10000 {
				return errors.New("--batch-size must be between 1 and 10000")
			}
			return runImport(cmd.Context(), cfg, files, stdout, stderr)
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}

// importSummary adds up the answers of POST /v1/imports.
type importSummary struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
}

type importResult struct {
	Index  int               `json:"index"`
	Status string            `json:"status"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

type importAnswer struct {
	importSummary
	Results []importResult `json:"results"`
}

// pending is a record read from a file and waiting to be sent, with where it came from.
type pending struct {
	where string // file:record
	movie ingest.Movie
}

func runImport(ctx context.Context, cfg importConfig, files []string, stdout, stderr io.Writer) error {
	base, err := gatewayBase(cfg.URL)
	if err != nil {
		return err
	}
	api := &apiClient{base: base, http: &http.Client{Timeout: 5 * time.Minute}}
	if err := api.authenticate(ctx, cfg.Token, cfg.Username, cfg.Password); err != nil {
		return err
	}
	total := 0
	for _, f := range files { // a first, cheap pass sizes the progress bar
		if err := ingest.ReadFile(f, func(ingest.Record) error { total++; return nil }); err != nil {
			return err
		}
	}
	bar := moviesBar(stderr, "importing", total, showProgress(cfg.Progress, stderr))

	var sum importSummary
	var problems []string
	report := func(where, msg string) { sum.Failed++; sum.Total++; problems = append(problems, where+": "+msg) }
	// Each batch's Idempotency-Key is this run's id and the batch's number: a retry of a batch within the
	// run is answered from the first attempt, while running the import again imports again.
	run := rand.Text()
	var batch []pending
	batchNo := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		batchNo++
		ans, err := api.importBatch(ctx, fmt.Sprintf("import-%s-%d", run, batchNo), batch)
		if err != nil {
			return err
		}
		sum.Total += ans.Total
		sum.Created += ans.Created
		sum.Updated += ans.Updated
		sum.Unchanged += ans.Unchanged
		sum.Failed += ans.Failed
		for _, r := range ans.Results {
			if r.Status == "failed" && r.Index >= 1 && r.Index <= len(batch) {
				problems = append(problems, batch[r.Index-1].where+": "+describe(r.Detail, r.Errors))
			}
		}
		_ = bar.Add(len(batch))
		batch = batch[:0]
		return nil
	}
	for _, f := range files {
		err := ingest.ReadFile(f, func(r ingest.Record) error {
			where := fmt.Sprintf("%s:%d", f, r.Index)
			if r.Err != nil {
				report(where, r.Err.Error())
				_ = bar.Add(1)
				return nil
			}
			batch = append(batch, pending{where: where, movie: r.Movie})
			if len(batch) >= cfg.BatchSize {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	_ = bar.Finish()

	fmt.Fprintf(stdout, "Imported %d records: %d created, %d updated, %d unchanged, %d failed.\n",
		sum.Total, sum.Created, sum.Updated, sum.Unchanged, sum.Failed)
	const shown = 20
	for i, p := range problems {
		if i == shown {
			fmt.Fprintf(stdout, "  … and %d more failed records\n", len(problems)-shown)
			break
		}
		fmt.Fprintln(stdout, "  "+p)
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d records failed", sum.Failed, sum.Total)
	}
	return nil
}

// describe renders a problem's detail with its field errors, in field order.
func describe(detail string, fields map[string]string) string {
	if len(fields) == 0 {
		return detail
	}
	var parts []string
	for _, f := range slices.Sorted(maps.Keys(fields)) {
		parts = append(parts, f+" "+fields[f])
	}
	return detail + " (" + strings.Join(parts, "; ") + ")"
}

// apiClient calls the gateway as an admin.
type apiClient struct {
	base  string
	http  *http.Client
	token string
}

func (c *apiClient) authenticate(ctx context.Context, token, username, password string) error {
	if token != "" {
		c.token = token
		return nil
	}
	if username == "" || password == "" {
		return errors.New("give --token, or --username and --password (or MARQUEE_TOKEN, MARQUEE_USERNAME and MARQUEE_PASSWORD)")
	}
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	status, answer, _, err := c.do(ctx, http.MethodPost, "/v1/auth/token", body, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("log in as %s: %s", username, problemText(status, answer))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(answer, &tok); err != nil || tok.AccessToken == "" {
		return fmt.Errorf("log in as %s: unexpected answer %s", username, answer)
	}
	c.token = tok.AccessToken
	return nil
}

// importBatch sends one batch as gzip-compressed JSON Lines under the given Idempotency-Key, so that a retry
// after a lost answer cannot write twice; 409 (the first attempt still running), 429 and 503 answers are
// retried after a pause.
func (c *apiClient) importBatch(ctx context.Context, key string, batch []pending) (*importAnswer, error) {
	var raw bytes.Buffer
	for _, p := range batch {
		line, err := p.movie.InputJSON()
		if err != nil {
			return nil, err
		}
		raw.Write(append(line, '\n'))
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(raw.Bytes())
	_ = zw.Close()
	header := map[string]string{
		"Content-Type":     "application/x-ndjson",
		"Content-Encoding": "gzip",
		"Idempotency-Key":  key,
	}
	for attempt := 1; ; attempt++ {
		status, answer, retryAfter, err := c.do(ctx, http.MethodPost, "/v1/imports", zipped.Bytes(), header)
		retriable := err != nil || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusConflict
		if retriable && attempt < 8 {
			wait := time.Duration(attempt) * 500 * time.Millisecond
			if retryAfter > 0 {
				wait = retryAfter
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if status != http.StatusOK {
			return nil, fmt.Errorf("import: %s", problemText(status, answer))
		}
		var ans importAnswer
		if err := json.Unmarshal(answer, &ans); err != nil {
			return nil, fmt.Errorf("import: unexpected answer: %w", err)
		}
		return &ans, nil
	}
}

func (c *apiClient) do(ctx context.Context, method, path string, body []byte, header map[string]string) (int, []byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, 0, reachError(c.base, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, 0, err
	}
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, answer, time.Duration(secs) * time.Second, nil
}

// problemText renders a problem+json answer for a person.
func problemText(status int, body []byte) string {
	var p struct {
		Detail string            `json:"detail"`
		Errors map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		return fmt.Sprintf("%d %s", status, describe(p.Detail, p.Errors))
	}
	return fmt.Sprintf("%d %s", status, http.StatusText(status))
}
