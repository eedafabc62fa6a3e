-- Fewer index entries per outbox row: a tick that queues hundreds of
-- thousands of rows pays for every index each row lands in.
--
-- `sends_enrollment` repeats the table's own UNIQUE (enrollment_id, step)
-- key, which already serves every lookup by enrollment.
DROP INDEX IF EXISTS sends_enrollment;
-- `sent_seq` is set only when a row is recorded sent; queued rows no longer
-- get an entry. The next number is read with `WHERE sent_seq IS NOT NULL`,
-- which this index serves.
DROP INDEX IF EXISTS sends_sent_seq;
CREATE INDEX sends_sent_seq ON sends (sent_seq) WHERE sent_seq IS NOT NULL;
