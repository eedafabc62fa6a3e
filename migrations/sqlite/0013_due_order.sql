-- A claim takes the due rows in (next_at, id) order, a batch at a time: with
-- this index that is a range read that stops after the batch, instead of
-- every due row sorted again for every claim (a million due rows made each
-- claim of a drain sort a million rows).
CREATE INDEX sends_due ON sends (next_at) WHERE state IN ('queued', 'retry');
