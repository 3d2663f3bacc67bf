-- A movie's certification (its age rating, e.g. PG-13): "" when unknown, as older rows are.
ALTER TABLE movies ADD COLUMN certification VARCHAR(16) NOT NULL DEFAULT '';
