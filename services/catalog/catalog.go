// Package catalog is the domain of the Marquee catalog service, which owns every write to the movie
// catalog: movies and their validation, their change history, users, API keys, signing keys, idempotency
// keys, the outbox of change events, and the Store that keeps them. Technology lives in subpackages: catalogsql (MySQL/MariaDB and SQLite), catalogapi
// (HTTP), outbox (the relay to JetStream), catalogsvc (wiring).
package catalog

import (
	"crypto/ed25519"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/events"
)

// Limits on a movie's fields.
const (
	MaxTitleLen     = 300
	MaxOverviewLen  = 10_000
	MaxTaglineLen   = 500
	MaxListItems    = 50  // directors, cast, genres
	MaxTagItems     = 100 // keywords, tags
	MaxListItemLen  = 200
	MaxPosterURLLen = 1000
	MinYear         = 1870
	MaxYear         = 2100
	MaxRuntime      = 2000
	MaxRating       = 10
	MaxPopularity   = 1e6 // far above any real score; bounds what ranking must handle
	MaxVotes        = 1e9 // more votes than people who watch films
)

// Movie is a movie as the catalog stores it. Version starts at 1 and grows by one on every change,
// including the delete.
type Movie struct {
	ID               int64
	Title            string
	Year             *int
	Directors        []string
	Cast             []string
	Genres           []string
	Overview         string
	Tagline          string
	Keywords         []string
	Tags             []string
	RuntimeMinutes   *int
	Rating           *float64
	Votes            *int64
	Popularity       *float64
	OriginalLanguage string
	PosterURL        string
	TMDBID           *int64
	IMDbID           *string
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Input returns the movie's writable fields.
func (m *Movie) Input() MovieInput {
	return MovieInput{
		Title: m.Title, Year: m.Year, Directors: m.Directors, Cast: m.Cast, Genres: m.Genres,
		Overview: m.Overview, Tagline: m.Tagline, Keywords: m.Keywords, Tags: m.Tags,
		RuntimeMinutes: m.RuntimeMinutes, Rating: m.Rating, Votes: m.Votes, Popularity: m.Popularity,
		OriginalLanguage: m.OriginalLanguage, PosterURL: m.PosterURL, TMDBID: m.TMDBID, IMDbID: m.IMDbID,
	}
}

// MovieInput holds the fields a client writes. Updates replace all of them.
type MovieInput struct {
	Title            string
	Year             *int
	Directors        []string
	Cast             []string
	Genres           []string
	Overview         string
	Tagline          string
	Keywords         []string
	Tags             []string
	RuntimeMinutes   *int
	Rating           *float64
	Votes            *int64
	Popularity       *float64
	OriginalLanguage string
	PosterURL        string
	TMDBID           *int64
	IMDbID           *string
}

var (
	languageRE = regexp.MustCompile(`^[a-z]{2,3}$`)
	imdbIDRE   = regexp.MustCompile(`^tt[0-9]{5,10}$`)
)

// Validate normalises in in place (strings trimmed, list items trimmed and de-duplicated keeping the first
// occurrence, a blank imdb_id dropped) and then checks it. It returns an Invalid error naming every bad
// field.
func (in *MovieInput) Validate() error {
	bad := map[string]string{}
	text := func(field string, s *string, max int, required, multiline bool) {
		*s = strings.TrimSpace(*s)
		switch n := utf8.RuneCountInString(*s); {
		case n == 0 && required:
			bad[field] = "is required"
		case n > max:
			bad[field] = fmt.Sprintf("must be at most %d characters", max)
		case n > 0:
			if msg := textProblem(*s, multiline); msg != "" {
				bad[field] = msg
			}
		}
	}
	text("title", &in.Title, MaxTitleLen, true, false)
	text("overview", &in.Overview, MaxOverviewLen, false, true)
	text("tagline", &in.Tagline, MaxTaglineLen, false, false)
	if in.Year != nil && (*in.Year < MinYear || *in.Year > MaxYear) {
		bad["year"] = fmt.Sprintf("must be between %d and %d", MinYear, MaxYear)
	}
	if in.RuntimeMinutes != nil && (*in.RuntimeMinutes < 1 || *in.RuntimeMinutes > MaxRuntime) {
		bad["runtime_minutes"] = fmt.Sprintf("must be between 1 and %d", MaxRuntime)
	}
	if in.Rating != nil && (math.IsNaN(*in.Rating) || *in.Rating < 0 || *in.Rating > MaxRating) {
		bad["rating"] = fmt.Sprintf("must be between 0 and %d", MaxRating)
	}
	if in.Popularity != nil && (math.IsNaN(*in.Popularity) || *in.Popularity < 0 || *in.Popularity > MaxPopularity) {
		bad["popularity"] = fmt.Sprintf("must be between 0 and %g", float64(MaxPopularity))
	}
	if in.Votes != nil && (*in.Votes < 0 || *in.Votes > MaxVotes) {
		bad["votes"] = fmt.Sprintf("must be between 0 and %d", int64(MaxVotes))
	}
	for _, l := range []struct {
		field string
		items *[]string
		max   int
	}{
		{"directors", &in.Directors, MaxListItems}, {"cast", &in.Cast, MaxListItems}, {"genres", &in.Genres, MaxListItems},
		{"keywords", &in.Keywords, MaxTagItems}, {"tags", &in.Tags, MaxTagItems},
	} {
		var msg string
		if *l.items, msg = cleanList(*l.items, l.max); msg != "" {
			bad[l.field] = msg
		}
	}
	in.OriginalLanguage = strings.TrimSpace(in.OriginalLanguage)
	if in.OriginalLanguage != "" && !languageRE.MatchString(in.OriginalLanguage) {
		bad["original_language"] = "must be 2 or 3 lower-case letters (ISO 639)"
	}
	in.PosterURL = strings.TrimSpace(in.PosterURL)
	if in.PosterURL != "" {
		if msg := checkURL(in.PosterURL); msg != "" {
			bad["poster_url"] = msg
		}
	}
	if in.TMDBID != nil && *in.TMDBID <= 0 {
		bad["tmdb_id"] = "must be a positive integer"
	}
	if in.IMDbID != nil {
		id := strings.TrimSpace(*in.IMDbID)
		switch {
		case id == "":
			in.IMDbID = nil
		case !imdbIDRE.MatchString(id):
			bad["imdb_id"] = `must look like "tt0133093" (tt and 5 to 10 digits)`
		default:
			in.IMDbID = &id
		}
	}
	if len(bad) > 0 {
		return apperr.InvalidFields("The movie is not valid.", bad)
	}
	return nil
}

// checkURL reports what is wrong with an absolute http(s) URL, or "".
func checkURL(s string) string {
	if len(s) > MaxPosterURLLen {
		return fmt.Sprintf("must be at most %d characters", MaxPosterURLLen)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "must be a URL without spaces"
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return "must be an absolute http or https URL"
	}
	return ""
}

// textProblem says what makes s unfit as text a person reads, or "": invalid UTF-8, control characters
// (NUL, escape sequences, …; tabs and line breaks are allowed in multiline text), or nothing visible at all
// (only spaces and invisible format characters such as zero-width spaces).
func textProblem(s string, multiline bool) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	visible := false
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\r' || r == '\t'):
		case unicode.IsControl(r):
			return "must not contain control characters"
		case unicode.IsGraphic(r) && !unicode.IsSpace(r):
			visible = true
		}
	}
	if !visible {
		return "must contain a visible character"
	}
	return ""
}

// cleanList trims the items, drops repeats and reports the first problem. A nil list stays empty, not nil,
// so that it is stored and served as [].
func cleanList(items []string, max int) ([]string, string) {
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			return out, "must not contain empty items"
		case utf8.RuneCountInString(it) > MaxListItemLen:
			return out, fmt.Sprintf("items must be at most %d characters", MaxListItemLen)
		case textProblem(it, false) != "":
			return out, "items " + textProblem(it, false)
		case seen[it]:
			continue
		}
		seen[it] = true
		out = append(out, it)
	}
	if len(out) > max {
		return out, fmt.Sprintf("must have at most %d items", max)
	}
	return out, ""
}

// Roles a user can hold; the same strings as in access tokens.
const (
	RoleAdmin = authn.RoleAdmin
	RoleUser  = authn.RoleUser
)

// User is an account that can get an access token.
type User struct {
	ID           int64 // stable and never reused, unlike Username: histories name a user as "user:<ID>"
	Username     string
	Role         string // RoleAdmin or RoleUser
	PasswordHash string // PHC-formatted argon2id hash
	CreatedAt    time.Time
	UpdatedAt    time.Time // of the last change of role or password; tokens issued before it are revoked
}

// SigningKey is a private key that signs access tokens; its public half is published as a JWK under Kid.
type SigningKey struct {
	Kid       string
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// MovieVersion is what the reconciler compares: a movie's id, version and whether that version deleted it.
type MovieVersion struct {
	ID      int64
	Version int64
	Deleted bool
}

// OutboxEvent is a committed change event waiting for (or done with) publication.
type OutboxEvent struct {
	ID        int64  // outbox row id: publication order among pending rows
	EventID   string // events.MsgID(MovieID, Version), the JetStream message id
	MovieID   int64
	Version   int64
	Payload   []byte // JSON of events.MovieChanged
	CreatedAt time.Time
}

// Actions recorded in a movie's history.
const (
	ActionCreated = "created"
	ActionUpdated = "updated"
	ActionDeleted = "deleted"
)

// HistoryEntry is one change of a movie: who made it, when, and what changed.
type HistoryEntry struct {
	Version int64
	Action  string // ActionCreated, ActionUpdated or ActionDeleted
	Actor   string // the principal's subject: a username, "key:<id>", "seed" or "import:<user>"
	At      time.Time
	Changes map[string]FieldChange // by JSON field name; empty for a delete
}

// ImportStatus is what an import did with one record.
type ImportStatus string

// The import outcomes.
const (
	ImportCreated   ImportStatus = "created"
	ImportUpdated   ImportStatus = "updated"
	ImportUnchanged ImportStatus = "unchanged" // identical to the stored movie: no new version
	ImportFailed    ImportStatus = "failed"
)

// ImportResult is the outcome of one imported record.
type ImportResult struct {
	Status ImportStatus
	Movie  *Movie // the stored movie, unless Failed
	Err    error  // why it failed (an apperr error), if Failed
}

// IdempotencyKey names one client request that may be retried: the principal's own key, and a hash of the
// request (method, path and body) so that a key reused for another request is caught.
type IdempotencyKey struct {
	Principal   string
	Key         string
	RequestHash string // hex SHA-256
}

// IdempotencyTTL is how long an idempotency key is kept; InFlightTimeout is how long a claimed key whose
// request never finished (a crash) blocks its retries.
const (
	IdempotencyTTL  = 24 * time.Hour
	InFlightTimeout = 10 * time.Minute
)

// SavedResponse is the first answer to an idempotent request, replayed to its retries.
type SavedResponse struct {
	Status   int
	Location string
	ETag     string
	Body     []byte
}

// APIKey is a key for a machine client. Only the SHA-256 of the key is stored.
type APIKey struct {
	ID         int64
	Name       string
	Role       string
	Hash       []byte // SHA-256 of the key
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// RefreshToken is one token of a browser session, which renews its access token. A token is used once: each
// refresh exchanges it for the next of its family (the tokens of one sign-in). Only its SHA-256 is stored.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token
	Family    string
	Username  string
	Role      string    // the user's role at sign-in
	StartedAt time.Time // of the sign-in: a new password or role of the user after it ends the session
	ExpiresAt time.Time
}

// Subject is the principal subject of requests made with the key.
func (k *APIKey) Subject() string { return "key:" + strconv.FormatInt(k.ID, 10) }

// Actor names user u in histories and Idempotency-Keys: by its stable id, never by its reusable name.
func (u *User) Actor() string { return "user:" + strconv.FormatInt(u.ID, 10) }

// OnSameFilm says what creating a movie does when the new movie describes one the catalog holds (SameFilm).
type OnSameFilm int

const (
	// CreateAnyway creates it: what an admin asks for who knows the two apart (a remake of one title and year).
	CreateAnyway OnSameFilm = iota
	// RefuseSameFilm refuses it with Conflict, naming the stored movies.
	RefuseSameFilm
)

// EventMovie converts a movie to its wire form: the one representation the catalog API serves and the
// outbox publishes, so that the catalog and search answer with the same shape.
func EventMovie(m *Movie) *events.Movie {
	return &events.Movie{
		ID:               m.ID,
		Title:            m.Title,
		Year:             m.Year,
		Directors:        nonNil(m.Directors),
		Cast:             nonNil(m.Cast),
		Genres:           nonNil(m.Genres),
		Overview:         m.Overview,
		Tagline:          m.Tagline,
		Keywords:         nonNil(m.Keywords),
		Tags:             nonNil(m.Tags),
		RuntimeMinutes:   m.RuntimeMinutes,
		Rating:           m.Rating,
		Votes:            m.Votes,
		Popularity:       m.Popularity,
		OriginalLanguage: m.OriginalLanguage,
		PosterURL:        m.PosterURL,
		TMDBID:           m.TMDBID,
		IMDbID:           m.IMDbID,
		Version:          m.Version,
		CreatedAt:        m.CreatedAt.UTC(),
		UpdatedAt:        m.UpdatedAt.UTC(),
	}
}

// UpsertEvent is the event of a created or updated movie: its full new state.
func UpsertEvent(m *Movie) *events.MovieChanged {
	return &events.MovieChanged{
		Schema:     events.SchemaVersion,
		Type:       events.MovieUpserted,
		ID:         m.ID,
		Version:    m.Version,
		OccurredAt: m.UpdatedAt.UTC(),
		Movie:      EventMovie(m),
	}
}

// DeleteEvent is the tombstone of a deleted movie.
func DeleteEvent(id, version int64, at time.Time) *events.MovieChanged {
	return &events.MovieChanged{
		Schema:     events.SchemaVersion,
		Type:       events.MovieDeleted,
		ID:         id,
		Version:    version,
		OccurredAt: at.UTC(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
