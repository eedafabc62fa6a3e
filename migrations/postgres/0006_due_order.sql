-- A claim takes the due rows in (next_at, id) order, a batch at a time: with
-- this index that is a range read that stops after the batch, instead of
-- every due row sorted again for every claim.
CREATE INDEX sends_due ON sends (next_at, id) WHERE state IN ('queued', 'retry');
