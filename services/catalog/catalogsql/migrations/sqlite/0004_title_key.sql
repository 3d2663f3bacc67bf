-- A movie's title in the form two spellings of it share (catalog.TitleKey): a write without an external id
-- finds the movie it describes by it. Filled for older rows by Migrate, which computes it in Go.
ALTER TABLE movies ADD COLUMN title_key TEXT NULL;
CREATE INDEX movies_title_key ON movies (title_key, year);
