-- One row per title a write has looked a film up by (the SHA-256 of catalog.TitleKey). A create or an import
-- of a film without an id takes its row's lock before it looks the film up: two writes of one new film then
-- run one after the other, and the second finds the first's movie instead of creating another. A row lock
-- on the primary key takes no gap lock, unlike a locking read of movies' title_key range.
CREATE TABLE film_claims (
    key_hash BINARY(32) NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
