package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"marquee/pkg/config"
)

// adminConfig configures the admin commands that call the gateway: reindex and reconcile.
type adminConfig struct {
	URL      string `key:"url" usage:"base URL of the Marquee gateway (host:port alone means http://host:port)"`
	Username string `key:"username" usage:"admin username (with --password)"`
	Password string `key:"password" usage:"admin password" secret:"true"`
	Token    string `key:"token" usage:"admin access token or API key, instead of username and password" secret:"true"`
	Progress bool   `key:"progress" usage:"show a progress bar"`
}

func defaultAdminConfig() adminConfig {
	return adminConfig{URL: "http://127.0.0.1:8080", Progress: true}
}

func (cfg adminConfig) client(ctx context.Context) (*apiClient, error) {
	base, err := gatewayBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	api := &apiClient{base: base, http: &http.Client{Timeout: 2 * time.Minute}}
	return api, api.authenticate(ctx, cfg.Token, cfg.Username, cfg.Password)
}

// rebuildStatus is the answer of /v1/index/rebuild.
type rebuildStatus struct {
	State      string `json:"state"`
	Checkpoint uint64 `json:"checkpoint"`
	Target     uint64 `json:"target"`
	Applied    uint64 `json:"applied"`
	Movies     uint64 `json:"movies"`
	Error      string `json:"error"`
	DurationMS int64  `json:"duration_ms"`
}

func newReindexCommand(getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	cfg := defaultAdminConfig()
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the search index from the event stream without read downtime",
		Long: `Rebuild the search index (POST /v1/index/rebuild) and follow it to the end.

Search builds a fresh index from the event stream beside the live one and keeps
answering from the old index until the new one has caught up; then one atomic
swap puts the new index behind the API and the indexer, and the old one is
removed. With several search replicas, the gateway reaches one of them.`,
		Example: `  marquee reindex --username admin --password "$PW"
  MARQUEE_URL=http://marquee:8080 MARQUEE_TOKEN=mq_... marquee reindex`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			return runReindex(cmd.Context(), cfg, stdout, stderr)
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}

func runReindex(ctx context.Context, cfg adminConfig, stdout, stderr io.Writer) error {
	api, err := cfg.client(ctx)
	if err != nil {
		return err
	}
	status, body, _, err := api.do(ctx, http.MethodPost, "/v1/index/rebuild", nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusAccepted {
		return fmt.Errorf("start the rebuild: %s", problemText(status, body))
	}
	// The bar's own estimate follows its last few rates, and the rebuild's progress comes in bursts (58 s,
	// then 2 min 49 s, then 12 s left): the time left is told from the rate since the start instead.
	bar := progressbar.NewOptions64(1, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("reindexing"),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetVisibility(showProgress(cfg.Progress, stderr)),
		progressbar.OptionSetPredictTime(false), progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	_ = bar.RenderBlank()
	started := time.Now()
	var st rebuildStatus
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		status, body, _, err := api.do(ctx, http.MethodGet, "/v1/index/rebuild", nil, nil)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("follow the rebuild: %s", problemText(status, body))
		}
		if err := json.Unmarshal(body, &st); err != nil {
			return fmt.Errorf("follow the rebuild: unexpected answer %s", body)
		}
		if st.Target > 0 {
			bar.ChangeMax64(int64(st.Target))
			_ = bar.Set64(int64(min(st.Checkpoint, st.Target)))
			if left, ok := timeLeft(time.Since(started), st.Checkpoint, st.Target); ok {
				bar.Describe(fmt.Sprintf("reindexing, about %s left", left))
			}
		}
		if st.State == "done" || st.State == "failed" {
			break
		}
	}
	if st.State == "failed" {
		_ = bar.Exit()
		return fmt.Errorf("the rebuild failed (the old index still serves): %s", st.Error)
	}
	_ = bar.Finish()
	_, err = fmt.Fprintf(stdout, "Reindexed: %d movies from %d stream events in %s; the new index serves, the old one is removed.\n",
		st.Movies, st.Target, time.Duration(st.DurationMS)*time.Millisecond)
	return err
}

// reconcileConfig configures `marquee reconcile`.
type reconcileConfig struct {
	URL      string `key:"url" usage:"base URL of the Marquee gateway (host:port alone means http://host:port)"`
	Username string `key:"username" usage:"admin username (with --password)"`
	Password string `key:"password" usage:"admin password" secret:"true"`
	Token    string `key:"token" usage:"admin access token or API key, instead of username and password" secret:"true"`
}

func newReconcileCommand(getenv func(string) string, stdout io.Writer) *cobra.Command {
	cfg := reconcileConfig{URL: defaultAdminConfig().URL}
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Compare the catalog with the event stream and the search index, and repair what differs",
		Long: `Run a reconciliation now (POST /v1/admin/reconcile) and print its report.

The catalog compares every movie's (id, version, deleted) in its database with
the movie's last message in the event stream and, when it knows a search
service (search_url; the all-in-one always does), with that search index; it
republishes the current state of every movie that differs and waits until the
repairs are published. The catalog also does this every reconcile_interval.`,
		Example: `  marquee reconcile --username admin --password "$PW"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, getenv); err != nil {
				return err
			}
			return runReconcile(cmd.Context(), cfg, stdout)
		},
	}
	config.Flags(cmd.Flags(), &cfg)
	return cmd
}

func runReconcile(ctx context.Context, cfg reconcileConfig, stdout io.Writer) error {
	api, err := adminConfig{URL: cfg.URL, Username: cfg.Username, Password: cfg.Password, Token: cfg.Token}.client(ctx)
	if err != nil {
		return err
	}
	status, body, _, err := api.do(ctx, http.MethodPost, "/v1/admin/reconcile", nil, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("reconcile: %s", problemText(status, body))
	}
	var rep struct {
		Checked          int            `json:"checked"`
		Repaired         int            `json:"repaired"`
		Pending          int            `json:"pending"`
		Reasons          map[string]int `json:"reasons"`
		IndexChecked     bool           `json:"index_checked"`
		IndexAhead       int            `json:"index_ahead"`
		IndexUnknown     int            `json:"index_unknown"`
		IndexMisplaced   int            `json:"index_misplaced"`
		DurationMS       int64          `json:"duration_ms"`
		RepairsPublished bool           `json:"repairs_published"`
	}
	if err := json.Unmarshal(body, &rep); err != nil {
		return errors.New("reconcile: unexpected answer " + string(body))
	}
	against := "the stream"
	if rep.IndexChecked {
		against = "the stream and the search index"
	}
	fmt.Fprintf(stdout, "Compared %d movies with %s in %s: %d republished", rep.Checked, against, time.Duration(rep.DurationMS)*time.Millisecond, rep.Repaired)
	if len(rep.Reasons) > 0 {
		var parts []string
		for k, v := range rep.Reasons {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(parts)
		fmt.Fprintf(stdout, " (%s)", strings.Join(parts, ", "))
	}
	fmt.Fprintln(stdout, ".")
	if rep.Pending > 0 {
		fmt.Fprintf(stdout, "%d differing movies still have an event in the outbox; the relay publishes them.\n", rep.Pending)
	}
	if rep.IndexAhead > 0 || rep.IndexUnknown > 0 || rep.IndexMisplaced > 0 {
		fmt.Fprintf(stdout, "The index holds %d movies at a version the catalog never had, %d it never had and %d of another partition: run marquee reindex.\n", rep.IndexAhead, rep.IndexUnknown, rep.IndexMisplaced)
	}
	if rep.Repaired > 0 && !rep.RepairsPublished {
		fmt.Fprintln(stdout, "Not every repair was published within 30 s; the relay goes on.")
	}
	return nil
}
