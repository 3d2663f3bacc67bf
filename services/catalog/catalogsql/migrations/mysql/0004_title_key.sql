-- A movie's title in the form two spellings of it share (catalog.TitleKey): a write without an external id
-- finds the movie it describes by it. Filled for older rows by Migrate, which computes it in Go.
ALTER TABLE movies
    ADD COLUMN title_key VARCHAR(600) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    ADD KEY movies_title_key (title_key, year);
