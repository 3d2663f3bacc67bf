-- A stable id for each account, never reused: histories and Idempotency-Keys name a user by it, so that a
-- deleted and re-created username is never taken for the old account.
CREATE TABLE principals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    username   TEXT     NOT NULL,
    created_at DATETIME NOT NULL
);
ALTER TABLE users ADD COLUMN principal_id INTEGER NULL;
INSERT INTO principals (username, created_at) SELECT username, created_at FROM users ORDER BY created_at, username;
UPDATE users SET principal_id = (SELECT MAX(p.id) FROM principals p WHERE p.username = users.username);
