-- Every message writes its send three times (claimed, sending, sent) and
-- queues it once; each write that is not a HOT update adds an entry to every
-- index of the table, and each foreign key costs a lookup per inserted row.
-- What no query needs goes:
--
-- * `sends_claimed_by`: a sender's rows are found by their lease
--   (`sends_leased`), never by the sender's id alone; the index only grew,
--   since a finished row keeps the name of the sender that sent it.
-- * `enrollments_campaign_open`: `enrollments_open` (campaign, contact_id)
--   has the same predicate and leads with the same column.
-- * `sends_contact_id_fkey`: a send's contact is its enrollment's, which
--   `sends_enrollment_id_fkey` and `enrollments_contact_id_fkey` already
--   hold to an existing contact (and contacts are never deleted: erasure
--   blanks them in place).
DROP INDEX IF EXISTS sends_claimed_by;
DROP INDEX IF EXISTS enrollments_campaign_open;
ALTER TABLE sends DROP CONSTRAINT IF EXISTS sends_contact_id_fkey;
