-- Every message changes its send's `state` three times (claimed, sending,
-- sent). With `state` read by an index, each change was a non-HOT update:
-- a new row version plus an entry in every index of the table. No index
-- reads `state` any more, nor anything else the `sending` mark changes, so
-- the mark can be a HOT update (the new version on the same page, no index
-- entries), for which pages keep room.
--
-- The due rows are those with no lease and no end: queued and retry rows
-- (and in-doubt ones, which the claim's state test leaves out). Every path
-- that puts a row back in the queue clears its lease; the constraint makes
-- one that did not fail loudly instead of leaving the row unclaimable.
ALTER TABLE sends ADD CONSTRAINT sends_due_unleased
    CHECK (state NOT IN ('queued', 'retry') OR (lease_until IS NULL AND finished_at IS NULL));
DROP INDEX IF EXISTS sends_ready;
DROP INDEX IF EXISTS sends_due;
CREATE INDEX sends_due ON sends (next_at, id) WHERE lease_until IS NULL AND finished_at IS NULL;
-- Rows a sender holds (claimed or on the wire), for taking back a stopped
-- sender's rows.
CREATE INDEX sends_leased ON sends (lease_until) WHERE lease_until IS NOT NULL;
ALTER TABLE sends SET (fillfactor = 70);
