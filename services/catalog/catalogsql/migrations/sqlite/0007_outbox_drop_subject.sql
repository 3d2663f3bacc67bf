-- The relay derives each event's subject from its movie id and the configured stream, so the stored copy was
-- never read. SQLite's database belongs to one process (the all-in-one's), so no process of the release
-- before can still be writing it.
ALTER TABLE outbox DROP COLUMN subject;
