-- One row per refresh token of a browser session (its SHA-256); see the MySQL migration.
CREATE TABLE refresh_tokens (
    token_hash BLOB     NOT NULL PRIMARY KEY,
    family     TEXT     NOT NULL,
    username   TEXT     NOT NULL,
    role       TEXT     NOT NULL,
    started_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at    DATETIME NULL,
    revoked_at DATETIME NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
