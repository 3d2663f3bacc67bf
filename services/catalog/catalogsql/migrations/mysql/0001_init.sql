-- Movies are soft-deleted (deleted_at) so that versions keep counting past a delete and ids are never reused.
CREATE TABLE movies (
    id              BIGINT      NOT NULL AUTO_INCREMENT,
    title           VARCHAR(300) NOT NULL,
    year            INT         NULL,
    directors       MEDIUMTEXT  NOT NULL, -- JSON array of strings
    cast_members    MEDIUMTEXT  NOT NULL, -- JSON array of strings
    genres          MEDIUMTEXT  NOT NULL, -- JSON array of strings
    overview        MEDIUMTEXT  NOT NULL,
    runtime_minutes INT         NULL,
    rating          DOUBLE      NULL,
    votes           BIGINT      NULL,
    popularity      DOUBLE      NULL,
    version         BIGINT      NOT NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    deleted_at      DATETIME(6) NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The relay scans the unpublished rows in id order; (published_at, id) serves exactly that scan.
CREATE TABLE outbox (
    id           BIGINT       NOT NULL AUTO_INCREMENT,
    event_id     VARCHAR(100) NOT NULL,
    movie_id     BIGINT       NOT NULL,
    version      BIGINT       NOT NULL,
    subject      VARCHAR(255) NOT NULL,
    payload      MEDIUMBLOB   NOT NULL,
    created_at   DATETIME(6)  NOT NULL,
    published_at DATETIME(6)  NULL,
    PRIMARY KEY (id),
    UNIQUE KEY outbox_event_id (event_id),
    KEY outbox_published_at (published_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE users (
    username      VARCHAR(64)  NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          VARCHAR(16)  NOT NULL,
    created_at    DATETIME(6)  NOT NULL,
    updated_at    DATETIME(6)  NOT NULL,
    PRIMARY KEY (username),
    KEY users_role (role)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE signing_keys (
    kid         VARCHAR(64)   NOT NULL,
    private_key VARBINARY(64) NOT NULL,
    created_at  DATETIME(6)   NOT NULL,
    PRIMARY KEY (kid)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE meta (
    name  VARCHAR(64) NOT NULL,
    value TEXT        NOT NULL,
    PRIMARY KEY (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
