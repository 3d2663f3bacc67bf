// Package catalogsvc wires the catalog service: configuration, migrations, the JetStream stream, signing
// keys, the first admin, the seed, the HTTP handler and the outbox relay. The split-mode binary
// (cmd/catalog) and the all-in-one binary both build the service with New.
package catalogsvc

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"marquee/pkg/events"
	"marquee/pkg/genres"
	"marquee/pkg/httpx"
	"marquee/pkg/natsx"
	"marquee/services/catalog"
	"marquee/services/catalog/catalogsql"
)

// Config configures the catalog. Keys follow pkg/config: flag --admin-password, env MARQUEE_ADMIN_PASSWORD.
type Config struct {
	Addr              string        `key:"addr" usage:"HTTP listen address"`
	MySQLDSN          string        `key:"mysql_dsn" usage:"MySQL/MariaDB DSN, e.g. catalog:pw@tcp(db:3306)/catalog, or URL, mysql://catalog:pw@db:3306/catalog?ssl-mode=REQUIRED (or sqlite:<path>)" secret:"true"`
	MySQLMaxConns     int           `key:"mysql_max_conns" usage:"connections to MySQL at most; requests beyond wait for one (a managed plan's limit is for every process of the app)"`
	NATSURL           string        `key:"nats_url" usage:"NATS server URL, or several separated by commas (the nodes of a cluster)"`
	NATSUser          string        `key:"nats_user" usage:"NATS user the catalog connects as (deploy/nats/auth.conf: catalog, which may publish movie changes); empty: none"`
	NATSPassword      string        `key:"nats_password" secret:"true" usage:"password of nats_user"`
	Stream            string        `key:"stream" usage:"JetStream stream of movie changes"`
	SubjectPrefix     string        `key:"subject_prefix" usage:"subject prefix of movie changes (<prefix>.movie.<id>)"`
	StreamPartitions  int           `key:"stream_partitions" usage:"partitions the stream keeps movies in (at most 1024), by the server's hash of the id (NATS 2.10+): each search shard group consumes one; 0 or 1: none. Set when the stream is created: a stream that holds movies is not repartitioned"`
	StreamReplicas    int           `key:"stream_replicas" usage:"copies of the stream a JetStream cluster keeps (3: a node lost loses no acknowledged change); the catalog creates the stream so and brings it back to it at every start; 0 keeps what the stream has (1 when creating it)"`
	Seed              string        `key:"seed" usage:"seed file loaded once per database (JSON array or JSON Lines, optionally gzipped, of write bodies, imdb.json or TMDB-like records); empty for none"`
	AdminUsername     string        `key:"admin_username" usage:"admin to create or whose password to reset (with admin_password)"`
	AdminPassword     string        `key:"admin_password" usage:"password of admin_username; empty generates one on first start" secret:"true"`
	AdminPasswordFile string        `key:"admin_password_file" usage:"file (mode 0600) to also write a generated admin password to; empty for none"`
	TokenTTL          time.Duration `key:"token_ttl" usage:"lifetime of access tokens (1m to 24h); the search page renews its own before they expire"`
	RefreshTTL        time.Duration `key:"refresh_ttl" usage:"how long an unused browser session lasts: each renewal of its access token extends it by as much"`
	LogLevel          string        `key:"log_level" usage:"log level: debug, info, warn or error"`

	OutboxRetention   time.Duration `key:"outbox_retention" usage:"how long outbox rows the stream has acknowledged are kept (for audits) before they are deleted; 0: deleted at once (each movie's history records its changes)"`
	OutboxBatchSize   int           `key:"outbox_batch_size" usage:"outbox rows the relay publishes (asynchronously) and marks at a time"`
	ReconcileInterval time.Duration `key:"reconcile_interval" usage:"how often the database is compared with the stream (and search_url's index) and differences republished; 0 turns it off"`
	GenreSynonyms     string        `key:"genre_synonyms" usage:"genre synonyms beyond the built-in ones, as from=to pairs separated by commas (e.g. Kids=Family,Suspense=Thriller): writes store each genre in its canonical spelling, and a genre filter is read so (split: set the search service's alike)"`
	InternalToken     string        `key:"internal_token" secret:"true" usage:"secret (32 bytes or more) the services of a split deployment share: the API-key check the gateway calls answers only requests that carry it, and the reconciler sends it to search_url; empty: anyone who reaches the service"`
	SearchURL         string        `key:"search_url" usage:"base URL of a search service whose index the reconciler also compares (e.g. http://127.0.0.1:8082); empty: the stream only"`
}

// EventStream is the stream the catalog publishes to.
func (c *Config) EventStream() events.Stream {
	return events.Stream{Name: c.Stream, Prefix: c.SubjectPrefix, Partitions: c.StreamPartitions}
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Addr:          "127.0.0.1:8081",
		NATSURL:       "nats://127.0.0.1:4222",
		Stream:        "CATALOG",
		SubjectPrefix: "catalog",
		TokenTTL:      15 * time.Minute,
		RefreshTTL:    7 * 24 * time.Hour,
		LogLevel:      "info",

		OutboxBatchSize:   1000,
		ReconcileInterval: 10 * time.Minute,
		MySQLMaxConns:     catalogsql.DefaultMySQLConns,
	}
}

// DefaultAdmin is the name of the admin generated on first start when admin_username is not set.
const DefaultAdmin = "admin"

// MinAdminPasswordLen is the shortest admin_password accepted.
const MinAdminPasswordLen = 12

var (
	usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	streamRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	prefixRE   = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Validate checks the config. The DSN is checked where it is used: the all-in-one passes its own database.
func (c *Config) Validate() error {
	var problems []string
	if strings.TrimSpace(c.Addr) == "" {
		problems = append(problems, "addr is required")
	}
	if !streamRE.MatchString(c.Stream) {
		problems = append(problems, fmt.Sprintf("stream %q must be 1-64 letters, digits, _ or -", c.Stream))
	}
	if c.NATSPassword != "" && c.NATSUser == "" {
		problems = append(problems, "nats_password needs nats_user")
	}
	if c.InternalToken != "" && len(c.InternalToken) < httpx.MinInternalToken {
		problems = append(problems, fmt.Sprintf("internal_token must be at least %d bytes", httpx.MinInternalToken))
	}
	if c.StreamPartitions < 0 || c.StreamPartitions > events.MaxPartitions {
		problems = append(problems, fmt.Sprintf("stream_partitions must be 0 to %d", events.MaxPartitions))
	}
	if c.StreamReplicas < 0 || c.StreamReplicas > natsx.MaxReplicas {
		problems = append(problems, fmt.Sprintf("stream_replicas must be 0 to %d", natsx.MaxReplicas))
	}
	if !prefixRE.MatchString(c.SubjectPrefix) {
		problems = append(problems, fmt.Sprintf("subject_prefix %q must be dot-separated tokens without wildcards", c.SubjectPrefix))
	}
	if c.AdminUsername != "" && !usernameRE.MatchString(c.AdminUsername) {
		problems = append(problems, "admin_username must be 1-64 lower-case letters, digits, '.', '_' or '-'")
	}
	if c.AdminPassword != "" {
		if c.AdminUsername == "" {
			problems = append(problems, "admin_password needs admin_username")
		}
		if len(c.AdminPassword) < MinAdminPasswordLen {
			problems = append(problems, fmt.Sprintf("admin_password must have at least %d characters", MinAdminPasswordLen))
		} else if msg := catalog.PasswordProblem(c.AdminPassword, c.AdminUsername); msg != "" {
			problems = append(problems, "admin_password "+msg) // the policy of every account's password
		}
	}
	if c.TokenTTL < time.Minute || c.TokenTTL > 24*time.Hour {
		problems = append(problems, "token_ttl must be between 1m and 24h")
	}
	if c.RefreshTTL < c.TokenTTL || c.RefreshTTL > 90*24*time.Hour {
		problems = append(problems, "refresh_ttl must be between token_ttl and 2160h (90 days)")
	}
	if c.MySQLMaxConns < 1 {
		problems = append(problems, "mysql_max_conns must be at least 1")
	}
	if c.OutboxRetention < 0 {
		problems = append(problems, "outbox_retention must not be negative")
	}
	if c.OutboxBatchSize < 1 || c.OutboxBatchSize > 10000 {
		problems = append(problems, "outbox_batch_size must be between 1 and 10000")
	}
	if c.ReconcileInterval != 0 && c.ReconcileInterval < 10*time.Second {
		problems = append(problems, "reconcile_interval must be 0 (off) or at least 10s")
	}
	if c.SearchURL != "" && !strings.HasPrefix(c.SearchURL, "http://") && !strings.HasPrefix(c.SearchURL, "https://") {
		problems = append(problems, "search_url must be an http(s) URL")
	}
	if _, err := genres.Parse(c.GenreSynonyms); err != nil {
		problems = append(problems, "genre_synonyms: "+err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
