-- The planner's inserts (a tick's entrants and their first sends, thousands
-- of rows per statement) spent 40 % of their time in foreign-key checks: a
-- trigger per row that looks the parent up and locks it (`FOR KEY SHARE`,
-- a write to the parent's page and the WAL). Every such row is selected
-- from its parent in the same statement (enrollments from `contacts`, sends
-- from `enrollments`), so the check could never fail; SQLite's planner
-- turns its key checks off for the same inserts.
--
-- What the keys still guarded was deletion: neither contacts nor
-- enrollments are ever deleted (an erasure blanks a contact in place, and a
-- passage ends with `exited_at`, so the ledger keeps every row it refers
-- to). Statement triggers now refuse a `DELETE` or `TRUNCATE` of either
-- table, which costs nothing per inserted row.
ALTER TABLE enrollments DROP CONSTRAINT IF EXISTS enrollments_contact_id_fkey;
ALTER TABLE sends DROP CONSTRAINT IF EXISTS sends_enrollment_id_fkey;

CREATE FUNCTION tend_refuse_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'tend never deletes from %: the ledger refers to every row (erase a person with `tend contacts erase`)', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER contacts_never_deleted BEFORE DELETE OR TRUNCATE ON contacts
    FOR EACH STATEMENT EXECUTE FUNCTION tend_refuse_delete();
CREATE TRIGGER enrollments_never_deleted BEFORE DELETE OR TRUNCATE ON enrollments
    FOR EACH STATEMENT EXECUTE FUNCTION tend_refuse_delete();
