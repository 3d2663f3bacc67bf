-- The relay derives each event's subject from its movie id and the configured stream, so the stored copy was
-- never read.
ALTER TABLE outbox DROP COLUMN subject;
