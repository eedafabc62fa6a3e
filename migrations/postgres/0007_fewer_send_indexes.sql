-- Every change of a send's state writes a new row version, and (state being
-- indexed) an entry in every index of the table: two indexes nothing needs
-- go. `sends_enrollment` repeats the unique (enrollment_id, step) index;
-- `sent_seq` numbers come from a sequence and no query looks a row up by it.
DROP INDEX IF EXISTS sends_enrollment;
DROP INDEX IF EXISTS sends_sent_seq_idx;
