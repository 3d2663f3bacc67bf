// Package catalog is the domain of the Marquee catalog service, which owns every write to the movie
// catalog: movies and their validation, users, signing keys, the outbox of change events, and the Store
// that keeps them. Technology lives in subpackages: catalogsql (MySQL/MariaDB and SQLite), catalogapi
// (HTTP), outbox (the relay to JetStream), catalogsvc (wiring).
package catalog

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"marquee/pkg/apperr"
	"marquee/pkg/authn"
	"marquee/pkg/events"
)

// Limits on a movie's fields.
const (
	MaxTitleLen    = 300
	MaxOverviewLen = 10_000
	MaxListItems   = 50
	MaxListItemLen = 200
	MinYear        = 1870
	MaxYear        = 2100
	MaxRuntime     = 2000
	MaxRating      = 10
)

// Movie is a movie as the catalog stores it. Version starts at 1 and grows by one on every change,
// including the delete.
type Movie struct {
	ID             int64
	Title          string
	Year           *int
	Directors      []string
	Cast           []string
	Genres         []string
	Overview       string
	RuntimeMinutes *int
	Rating         *float64
	Votes          *int64
	Popularity     *float64
	Version        int64
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// MovieInput holds the fields a client writes. Updates replace all of them.
type MovieInput struct {
	Title          string
	Year           *int
	Directors      []string
	Cast           []string
	Genres         []string
	Overview       string
	RuntimeMinutes *int
	Rating         *float64
	Votes          *int64
	Popularity     *float64
}

// Validate normalises in in place (strings trimmed, list items trimmed and de-duplicated keeping the first
// occurrence) and then checks it. It returns an Invalid error naming every bad field.
func (in *MovieInput) Validate() error {
	bad := map[string]string{}
	in.Title = strings.TrimSpace(in.Title)
	switch n := utf8.RuneCountInString(in.Title); {
	case n == 0:
		bad["title"] = "is required"
	case n > MaxTitleLen:
		bad["title"] = fmt.Sprintf("must be at most %d characters", MaxTitleLen)
	}
	in.Overview = strings.TrimSpace(in.Overview)
	if utf8.RuneCountInString(in.Overview) > MaxOverviewLen {
		bad["overview"] = fmt.Sprintf("must be at most %d characters", MaxOverviewLen)
	}
	if in.Year != nil && (*in.Year < MinYear || *in.Year > MaxYear) {
		bad["year"] = fmt.Sprintf("must be between %d and %d", MinYear, MaxYear)
	}
	if in.RuntimeMinutes != nil && (*in.RuntimeMinutes < 1 || *in.RuntimeMinutes > MaxRuntime) {
		bad["runtime_minutes"] = fmt.Sprintf("must be between 1 and %d", MaxRuntime)
	}
	if in.Rating != nil && (math.IsNaN(*in.Rating) || *in.Rating < 0 || *in.Rating > MaxRating) {
		bad["rating"] = fmt.Sprintf("must be between 0 and %d", MaxRating)
	}
	if in.Popularity != nil && (math.IsNaN(*in.Popularity) || math.IsInf(*in.Popularity, 0) || *in.Popularity < 0) {
		bad["popularity"] = "must be a number of at least 0"
	}
	if in.Votes != nil && *in.Votes < 0 {
		bad["votes"] = "must be at least 0"
	}
	var msg string
	if in.Directors, msg = cleanList(in.Directors); msg != "" {
		bad["directors"] = msg
	}
	if in.Cast, msg = cleanList(in.Cast); msg != "" {
		bad["cast"] = msg
	}
	if in.Genres, msg = cleanList(in.Genres); msg != "" {
		bad["genres"] = msg
	}
	if len(bad) > 0 {
		return apperr.InvalidFields("The movie is not valid.", bad)
	}
	return nil
}

// cleanList trims the items, drops repeats and reports the first problem. A nil list stays empty, not nil,
// so that it is stored and served as [].
func cleanList(items []string) ([]string, string) {
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		switch {
		case it == "":
			return out, "must not contain empty items"
		case utf8.RuneCountInString(it) > MaxListItemLen:
			return out, fmt.Sprintf("items must be at most %d characters", MaxListItemLen)
		case seen[it]:
			continue
		}
		seen[it] = true
		out = append(out, it)
	}
	if len(out) > MaxListItems {
		return out, fmt.Sprintf("must have at most %d items", MaxListItems)
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
	Username     string
	Role         string // RoleAdmin or RoleUser
	PasswordHash string // PHC-formatted argon2id hash
	CreatedAt    time.Time
}

// SigningKey is a private key that signs access tokens; its public half is published as a JWK under Kid.
type SigningKey struct {
	Kid       string
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// OutboxEvent is a committed change event waiting for (or done with) publication.
type OutboxEvent struct {
	ID        int64  // outbox row id: publication order among pending rows
	EventID   string // events.MsgID(MovieID, Version), the JetStream message id
	MovieID   int64
	Version   int64
	Subject   string
	Payload   []byte // JSON of events.MovieChanged
	CreatedAt time.Time
}

// Store keeps the catalog. Each method is one transaction; every change of a movie writes its outbox event
// in the same transaction.
type Store interface {
	// CreateMovie stores a new movie at version 1. in must be valid.
	CreateMovie(ctx context.Context, in MovieInput) (*Movie, error)
	// UpdateMovie replaces a movie's fields and bumps its version. ifVersion 0 means unconditional.
	// Returns NotFound if the movie is missing or deleted, PreconditionFailed if ifVersion is stale.
	UpdateMovie(ctx context.Context, id, ifVersion int64, in MovieInput) (*Movie, error)
	// DeleteMovie deletes a movie, returning the tombstone's version.
	// Returns NotFound if the movie is missing or deleted, PreconditionFailed if ifVersion is stale.
	DeleteMovie(ctx context.Context, id, ifVersion int64) (int64, error)
	// Movie returns a movie. Returns NotFound if it is missing or deleted.
	Movie(ctx context.Context, id int64) (*Movie, error)
	// Movies returns up to limit live movies with ids above afterID, in id order.
	Movies(ctx context.Context, afterID int64, limit int) ([]*Movie, error)
	// Seeded reports whether a seed was completed in this database.
	Seeded(ctx context.Context) (bool, error)
	// Seed stores the movies once per database: after a completed seed it stores nothing and returns 0.
	Seed(ctx context.Context, inputs []MovieInput, source string) (int, error)

	// PendingEvents returns up to limit unpublished events in outbox id order.
	PendingEvents(ctx context.Context, limit int) ([]OutboxEvent, error)
	// MarkPublished records that the events with these outbox ids were acknowledged by the stream.
	MarkPublished(ctx context.Context, ids []int64) error
	// Backlog counts the unpublished events.
	Backlog(ctx context.Context) (int64, error)

	// UpsertUser creates a user or replaces its role and password hash.
	UpsertUser(ctx context.Context, u User) error
	// UserByName returns a user. Returns NotFound if there is none.
	UserByName(ctx context.Context, username string) (*User, error)
	// CountAdmins counts the users with RoleAdmin.
	CountAdmins(ctx context.Context) (int, error)

	// SigningKeys returns every signing key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores a new signing key. Returns Conflict if the kid exists.
	AddSigningKey(ctx context.Context, k SigningKey) error
}

// EventMovie converts a movie to its wire form: the one representation the catalog API serves and the
// outbox publishes, so that the catalog and search answer with the same shape.
func EventMovie(m *Movie) *events.Movie {
	return &events.Movie{
		ID:             m.ID,
		Title:          m.Title,
		Year:           m.Year,
		Directors:      nonNil(m.Directors),
		Cast:           nonNil(m.Cast),
		Genres:         nonNil(m.Genres),
		Overview:       m.Overview,
		RuntimeMinutes: m.RuntimeMinutes,
		Rating:         m.Rating,
		Votes:          m.Votes,
		Popularity:     m.Popularity,
		Version:        m.Version,
		CreatedAt:      m.CreatedAt.UTC(),
		UpdatedAt:      m.UpdatedAt.UTC(),
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
