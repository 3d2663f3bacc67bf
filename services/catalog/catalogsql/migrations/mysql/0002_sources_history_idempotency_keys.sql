-- The richer movie fields, with external ids unique among live movies (a delete frees them; NULLs repeat).
ALTER TABLE movies
    ADD COLUMN tagline           VARCHAR(500)  NOT NULL DEFAULT '',
    ADD COLUMN keywords          MEDIUMTEXT    NOT NULL, -- JSON array of strings
    ADD COLUMN tags              MEDIUMTEXT    NOT NULL, -- JSON array of strings
    ADD COLUMN original_language VARCHAR(3)    NOT NULL DEFAULT '',
    ADD COLUMN poster_url        VARCHAR(1000) NOT NULL DEFAULT '',
    ADD COLUMN tmdb_id           BIGINT        NULL,
    ADD COLUMN imdb_id           VARCHAR(16)   CHARACTER SET ascii COLLATE ascii_bin NULL,
    ADD UNIQUE KEY movies_tmdb_id (tmdb_id),
    ADD UNIQUE KEY movies_imdb_id (imdb_id);
UPDATE movies SET keywords = '[]', tags = '[]';

-- One row per change of a movie, written in the change's transaction; kept after the movie is deleted.
CREATE TABLE movie_history (
    id         BIGINT       NOT NULL AUTO_INCREMENT,
    movie_id   BIGINT       NOT NULL,
    version    BIGINT       NOT NULL,
    action     VARCHAR(16)  NOT NULL,
    actor      VARCHAR(255) NOT NULL,
    changes    MEDIUMTEXT   NOT NULL, -- JSON object: field -> {"from": …, "to": …}
    created_at DATETIME(6)  NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY movie_history_version (movie_id, version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Idempotency-Key: the first answer per (principal, key), replayed to retries for 24 hours. status 0 means
-- the first request is still running.
CREATE TABLE idempotency_keys (
    principal    VARCHAR(255) NOT NULL,
    idem_key     VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    request_hash CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status       INT          NOT NULL,
    location     VARCHAR(255) NOT NULL DEFAULT '',
    etag         VARCHAR(64)  NOT NULL DEFAULT '',
    body         MEDIUMBLOB   NULL,
    created_at   DATETIME(6)  NOT NULL,
    expires_at   DATETIME(6)  NOT NULL,
    PRIMARY KEY (principal, idem_key),
    KEY idempotency_keys_expires_at (expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- API keys of machine clients, stored only as SHA-256.
CREATE TABLE api_keys (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    name         VARCHAR(100) NOT NULL,
    role         VARCHAR(16)  NOT NULL,
    key_hash     BINARY(32)   NOT NULL,
    created_by   VARCHAR(255) NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    last_used_at DATETIME(6)  NULL,
    revoked_at   DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY api_keys_key_hash (key_hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
