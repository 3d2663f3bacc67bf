-- Movies are soft-deleted (deleted_at) so that versions keep counting past a delete; AUTOINCREMENT makes
-- sure ids are never reused.
CREATE TABLE movies (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    title           TEXT     NOT NULL,
    year            INTEGER  NULL,
    directors       TEXT     NOT NULL, -- JSON array of strings
    cast_members    TEXT     NOT NULL, -- JSON array of strings
    genres          TEXT     NOT NULL, -- JSON array of strings
    overview        TEXT     NOT NULL,
    runtime_minutes INTEGER  NULL,
    rating          REAL     NULL,
    votes           INTEGER  NULL,
    popularity      REAL     NULL,
    version         INTEGER  NOT NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL,
    deleted_at      DATETIME NULL
);

-- The relay scans the unpublished rows in id order; (published_at, id) serves exactly that scan.
CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT     NOT NULL UNIQUE,
    movie_id     INTEGER  NOT NULL,
    version      INTEGER  NOT NULL,
    subject      TEXT     NOT NULL,
    payload      BLOB     NOT NULL,
    created_at   DATETIME NOT NULL,
    published_at DATETIME NULL
);
CREATE INDEX outbox_published_at ON outbox (published_at, id);

CREATE TABLE users (
    username      TEXT     NOT NULL PRIMARY KEY,
    password_hash TEXT     NOT NULL,
    role          TEXT     NOT NULL,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL
);
CREATE INDEX users_role ON users (role);

CREATE TABLE signing_keys (
    kid         TEXT     NOT NULL PRIMARY KEY,
    private_key BLOB     NOT NULL,
    created_at  DATETIME NOT NULL
);

CREATE TABLE meta (
    name  TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
