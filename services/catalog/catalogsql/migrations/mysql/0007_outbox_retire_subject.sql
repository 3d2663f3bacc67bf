-- The relay derives each event's subject from its movie id and the configured stream, so the stored copy is
-- not written any more. The column stays, with a default, for a release: during a rolling deploy a catalog
-- process of the release before still writes and reads it while the new one starts. A later release drops it.
ALTER TABLE outbox MODIFY subject VARCHAR(255) NOT NULL DEFAULT '';
