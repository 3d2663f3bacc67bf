package catalog

import (
	"context"
	"time"
)

// Store keeps the catalog: one interface per aggregate, so that each caller depends on the part it uses.
// Each method is one transaction (ImportMovies is one per batch).
type Store interface {
	MovieStore
	IdempotencyStore
	OutboxStore
	ReconcileStore
	UserStore
	SigningKeyStore
	APIKeyStore
	RefreshTokenStore
}

// MovieStore keeps the movies, their histories and the seed. Every change of a movie writes its outbox
// event and its history entry in the same transaction; actor names who makes a change, for the history.
type MovieStore interface {
	// CreateMovie stores a new movie at version 1. in must be valid.
	// Returns Conflict (naming the field) if another movie has its tmdb_id or imdb_id.
	// With RefuseSameFilm, returns Conflict (naming the title) if in describes a stored film (SameFilms).
	CreateMovie(ctx context.Context, actor string, in MovieInput, onSame OnSameFilm) (*Movie, error)
	// CreateMovieOnce is CreateMovie under an idempotency key, claimed in the same transaction: the first
	// call creates the movie and saves respond's answer with the key; a later call with the same key and
	// request hash creates nothing and returns the saved answer with replayed true. Returns Unprocessable
	// if the key was used for another request, Conflict if its first request is still running.
	CreateMovieOnce(ctx context.Context, actor string, in MovieInput, onSame OnSameFilm, key IdempotencyKey,
		respond func(*Movie) (SavedResponse, error)) (resp SavedResponse, replayed bool, err error)
	// UpdateMovie replaces a movie's fields and bumps its version. ifVersion 0 means unconditional.
	// Returns NotFound if the movie is missing or deleted, PreconditionFailed if ifVersion is stale,
	// Conflict if another movie has its tmdb_id or imdb_id.
	UpdateMovie(ctx context.Context, actor string, id, ifVersion int64, in MovieInput) (*Movie, error)
	// DeleteMovie deletes a movie, returning the tombstone's version. Its tmdb_id and imdb_id are freed.
	// Returns NotFound if the movie is missing or deleted, PreconditionFailed if ifVersion is stale.
	DeleteMovie(ctx context.Context, actor string, id, ifVersion int64) (int64, error)
	// Movie returns a movie. Returns NotFound if it is missing or deleted.
	Movie(ctx context.Context, id int64) (*Movie, error)
	// Movies returns up to limit live movies with ids above afterID, in id order.
	Movies(ctx context.Context, afterID int64, limit int) ([]*Movie, error)
	// MovieHistory returns every recorded change of a movie, deleted or not, in version order.
	// Returns NotFound if the movie never existed.
	MovieHistory(ctx context.Context, id int64) ([]HistoryEntry, error)
	// ImportMovies writes valid inputs in order: an input whose tmdb_id (else imdb_id) names a live movie,
	// or else that describes one stored film (SameFilm), is merged into it (Merge), or leaves it unchanged;
	// others create movies. An input that describes several stored films fails with Conflict. Each input
	// succeeds or fails on its own; the results are in input order.
	ImportMovies(ctx context.Context, actor string, inputs []MovieInput) ([]ImportResult, error)
	// Seeded reports whether a seed was completed in this database.
	Seeded(ctx context.Context) (bool, error)
	// Seed stores the movies once per database: after a completed seed it stores nothing and returns 0.
	Seed(ctx context.Context, inputs []MovieInput, source string) (int, error)
}

// IdempotencyStore keeps the Idempotency-Keys of requests that run in several transactions.
type IdempotencyStore interface {
	// ClaimIdempotencyKey claims a key for a request that runs in several transactions (an import). It
	// returns nil when the caller now owns the key and must Complete or Release it, or the saved answer of
	// the key's first request. Returns Unprocessable if the key was used for another request, Conflict if
	// its first request is still running.
	ClaimIdempotencyKey(ctx context.Context, key IdempotencyKey) (*SavedResponse, error)
	// CompleteIdempotencyKey saves the answer of a claimed key's request.
	CompleteIdempotencyKey(ctx context.Context, key IdempotencyKey, resp SavedResponse) error
	// ReleaseIdempotencyKey forgets a claimed key whose request failed, so that a retry runs it again.
	ReleaseIdempotencyKey(ctx context.Context, key IdempotencyKey) error
	// PruneIdempotencyKeys deletes expired keys, returning how many.
	PruneIdempotencyKeys(ctx context.Context) (int64, error)
}

// OutboxStore is the outbox of change events, as the relay drains it.
type OutboxStore interface {
	// PendingEvents returns up to limit unpublished events in outbox id order.
	PendingEvents(ctx context.Context, limit int) ([]OutboxEvent, error)
	// MarkPublished records that the events with these outbox ids were acknowledged by the stream.
	MarkPublished(ctx context.Context, ids []int64) error
	// DeletePublished deletes the events with these outbox ids, which the stream acknowledged: what a
	// relay that keeps no published rows does instead of marking them.
	DeletePublished(ctx context.Context, ids []int64) error
	// Backlog counts the unpublished events.
	Backlog(ctx context.Context) (int64, error)
	// PrunePublished deletes up to limit events published before before and returns how many it deleted.
	PrunePublished(ctx context.Context, before time.Time, limit int) (int, error)
	// LastPublished is when the last event still kept was marked published; zero if none is.
	LastPublished(ctx context.Context) (time.Time, error)
	// UnmarkPublished makes each movie's last event published at or after since unpublished again (not the
	// events a later one of the movie supersedes), so that the relay publishes them again, and returns how
	// many it changed.
	UnmarkPublished(ctx context.Context, since time.Time) (int64, error)
}

// ReconcileStore is what the reconciler compares with the stream and the index, and how it queues repairs.
type ReconcileStore interface {
	// MovieVersions returns up to limit movies after afterID in id order, deleted ones included, as
	// (id, version, deleted): what the reconciler compares with the stream and the index.
	MovieVersions(ctx context.Context, afterID int64, limit int) ([]MovieVersion, error)
	// RepublishMovies queues each movie's current state (or tombstone) in the outbox under a new message id,
	// unless an event of the movie is already waiting there, in one transaction. queued is the ids it queued.
	RepublishMovies(ctx context.Context, ids []int64) (queued []int64, err error)
}

// UserStore keeps the users.
type UserStore interface {
	// UpsertUser creates a user or replaces its role and password hash.
	UpsertUser(ctx context.Context, u User) error
	// CreateUser creates a user. Returns Conflict if the username is taken.
	CreateUser(ctx context.Context, u User) (*User, error)
	// UserByName returns a user. Returns NotFound if there is none.
	UserByName(ctx context.Context, username string) (*User, error)
	// Users returns every user in username order.
	Users(ctx context.Context) ([]User, error)
	// DeleteUser deletes a user. Returns NotFound if there is none, Conflict if it is the last admin.
	DeleteUser(ctx context.Context, username string) error
	// CountAdmins counts the users with RoleAdmin.
	CountAdmins(ctx context.Context) (int, error)
}

// SigningKeyStore keeps the keys that sign access tokens.
type SigningKeyStore interface {
	// SigningKeys returns every signing key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// AddSigningKey stores a new signing key. Returns Conflict if the kid exists.
	AddSigningKey(ctx context.Context, k SigningKey) error
}

// APIKeyStore keeps the API keys of machine clients.
type APIKeyStore interface {
	// CreateAPIKey stores a key (its hash) and returns it with its id and creation time.
	CreateAPIKey(ctx context.Context, k APIKey) (*APIKey, error)
	// APIKeys returns every key, revoked ones included, in id order.
	APIKeys(ctx context.Context) ([]APIKey, error)
	// APIKeyByHash returns the key with this hash, revoked or not. Returns NotFound if there is none.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// APIKeyByID returns the key with this id, revoked or not. Returns NotFound if there is none.
	APIKeyByID(ctx context.Context, id int64) (*APIKey, error)
	// TouchAPIKey records that a key was used at.
	TouchAPIKey(ctx context.Context, id int64, at time.Time) error
	// RevokeAPIKey revokes a key; revoking a revoked key changes nothing. Returns NotFound if there is none.
	RevokeAPIKey(ctx context.Context, id int64) error
}

// RefreshTokenStore keeps the refresh tokens of browser sessions.
type RefreshTokenStore interface {
	// CreateRefreshToken stores the first token of a new family.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken exchanges the live token with hash old for a new token of its family, in one
	// transaction: old is marked used and next is stored with old's family, user, role and start (next gives
	// only Hash and ExpiresAt), and returned. Returns NotFound if old is unknown, expired at now or of a
	// revoked family; Conflict if old was used before, after revoking its family (a copied token).
	RotateRefreshToken(ctx context.Context, old []byte, next RefreshToken, now time.Time) (*RefreshToken, error)
	// RevokeRefreshFamily revokes every token of the family of the token with this hash; an unknown hash
	// changes nothing.
	RevokeRefreshFamily(ctx context.Context, hash []byte) error
	// PruneRefreshTokens deletes the tokens that expired before now, returning how many.
	PruneRefreshTokens(ctx context.Context, now time.Time) (int64, error)
}
