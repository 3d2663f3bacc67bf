-- One row per title a write has looked a film up by (the SHA-256 of catalog.TitleKey); see the MySQL
-- migration. SQLite runs one write transaction at a time, so the claim only keeps the schemas alike.
CREATE TABLE film_claims (
    key_hash BLOB NOT NULL PRIMARY KEY
);
