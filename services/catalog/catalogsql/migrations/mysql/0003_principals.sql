-- A stable id for each account, never reused: histories and Idempotency-Keys name a user by it, so that a
-- deleted and re-created username is never taken for the old account.
CREATE TABLE principals (
    id         BIGINT      NOT NULL AUTO_INCREMENT,
    username   VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
ALTER TABLE users ADD COLUMN principal_id BIGINT NULL;
INSERT INTO principals (username, created_at) SELECT username, created_at FROM users ORDER BY created_at, username;
UPDATE users SET principal_id = (SELECT MAX(p.id) FROM principals p WHERE p.username = users.username);
