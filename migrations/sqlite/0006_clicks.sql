-- Clicks on tracked links keep what a report needs to tell readers from link
-- scanners: the message the link was in, the HTTP method, the User-Agent (at
-- most 200 characters; the client's address is never kept) and why the click
-- looks automated (NULL: it looks like a reader). Other events leave them NULL.
-- `send_id` has no REFERENCES clause on purpose: a later rebuild of `sends`
-- (rename, copy, drop) would otherwise drag this column's reference along.
ALTER TABLE events ADD COLUMN send_id INTEGER;
ALTER TABLE events ADD COLUMN method TEXT;
ALTER TABLE events ADD COLUMN user_agent TEXT;
ALTER TABLE events ADD COLUMN automated TEXT; -- 'head', 'scanner-agent', 'too-soon'

CREATE INDEX events_send ON events (send_id) WHERE send_id IS NOT NULL;
