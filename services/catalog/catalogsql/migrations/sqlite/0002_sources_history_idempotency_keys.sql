-- The richer movie fields, with external ids unique among live movies (a delete frees them; NULLs repeat).
ALTER TABLE movies ADD COLUMN tagline TEXT NOT NULL DEFAULT '';
ALTER TABLE movies ADD COLUMN keywords TEXT NOT NULL DEFAULT '[]';
ALTER TABLE movies ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE movies ADD COLUMN original_language TEXT NOT NULL DEFAULT '';
ALTER TABLE movies ADD COLUMN poster_url TEXT NOT NULL DEFAULT '';
ALTER TABLE movies ADD COLUMN tmdb_id INTEGER NULL;
ALTER TABLE movies ADD COLUMN imdb_id TEXT NULL;
CREATE UNIQUE INDEX movies_tmdb_id ON movies (tmdb_id);
CREATE UNIQUE INDEX movies_imdb_id ON movies (imdb_id);

-- One row per change of a movie, written in the change's transaction; kept after the movie is deleted.
CREATE TABLE movie_history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    movie_id   INTEGER  NOT NULL,
    version    INTEGER  NOT NULL,
    action     TEXT     NOT NULL,
    actor      TEXT     NOT NULL,
    changes    TEXT     NOT NULL, -- JSON object: field -> {"from": …, "to": …}
    created_at DATETIME NOT NULL,
    UNIQUE (movie_id, version)
);

-- Idempotency-Key: the first answer per (principal, key), replayed to retries for 24 hours. status 0 means
-- the first request is still running.
CREATE TABLE idempotency_keys (
    principal    TEXT     NOT NULL,
    idem_key     TEXT     NOT NULL,
    request_hash TEXT     NOT NULL,
    status       INTEGER  NOT NULL,
    location     TEXT     NOT NULL DEFAULT '',
    etag         TEXT     NOT NULL DEFAULT '',
    body         BLOB     NULL,
    created_at   DATETIME NOT NULL,
    expires_at   DATETIME NOT NULL,
    PRIMARY KEY (principal, idem_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- API keys of machine clients, stored only as SHA-256.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT     NOT NULL,
    role         TEXT     NOT NULL,
    key_hash     BLOB     NOT NULL UNIQUE,
    created_by   TEXT     NOT NULL,
    created_at   DATETIME NOT NULL,
    last_used_at DATETIME NULL,
    revoked_at   DATETIME NULL
);
