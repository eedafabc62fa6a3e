-- Variation: what each sent message actually said, so the next message can
-- avoid repeating it and `tend variation` can measure how varied sends were.
ALTER TABLE sends ADD COLUMN variants TEXT;   -- JSON array of choices {slot, n, of, text, part}
ALTER TABLE sends ADD COLUMN opener TEXT;     -- the opener slot, or the first line of the text part
ALTER TABLE sends ADD COLUMN body_text TEXT;  -- the plain-text part as sent
-- The order in which sends were recorded as sent (1, 2, …): a message's
-- history is exactly the sends recorded before it, even within one second.
ALTER TABLE sends ADD COLUMN sent_seq INTEGER;
CREATE INDEX sends_sent_seq ON sends (sent_seq);
