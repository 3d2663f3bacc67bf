// Package catalog is the domain of the Marquee catalog service, which owns every write to the movie
// catalog: movies and their validation, their change history, users, API keys, signing keys, idempotency
// keys, the outbox of change events, and the Store that keeps them. Technology lives in subpackages: catalogsql (MySQL/MariaDB and SQLite), catalogapi
// (HTTP), outbox (the relay to JetStream), catalogsvc (wiring).
package catalog

import (
	"crypto/ed25519"
	"strconv"
	"time"

	"marquee/pkg/authn"
	"marquee/pkg/events"
)

// Movie is a movie as the catalog stores it: the wire form, events.Movie, whose ID, Version and times the
// store sets. Version starts at 1 and grows by one on every change, including the delete.
type Movie = events.Movie

// MovieInput is a movie as a client writes it: only its writable fields (events.Fields) count; the server's
// id, version and times are ignored. Updates replace all of them. Its Validate normalises and checks them.
type MovieInput = events.Movie

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
// outbox publishes, so that the catalog and search answer with the same shape: lists never null, times in UTC.
func EventMovie(m *Movie) *events.Movie {
	out := *m
	out.FillLists()
	out.CreatedAt, out.UpdatedAt = m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return &out
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
