-- Variation: what each sent message actually said, so the next message can
-- avoid repeating it and `tend variation` can measure how varied sends were.
ALTER TABLE sends ADD COLUMN variants TEXT;   -- JSON array of choices {slot, n, of, text, part}
ALTER TABLE sends ADD COLUMN opener TEXT;     -- the opener slot, or the first line of the text part
ALTER TABLE sends ADD COLUMN body_text TEXT;  -- the plain-text part as sent
