#!/usr/bin/env bash
# Times `tend segment count` over a generated SQLite file of N contacts
# (default 1,000,000) with ~N/2 purchase events, for a few segments.
#
#   bash bench/segment_count.sh              # 1M contacts, dev build
#   N=200000 PROFILE=release bash bench/segment_count.sh
#
# Prints, per segment, the matching count and the best wall time of 3 runs
# (the whole command: process start, catalog load, two SQL queries —
# members and not-yet-entered). The database is generated once per N in
# $BENCH_DIR (default target/bench-segments) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000000}
PROFILE=${PROFILE:-dev}
DIR=${BENCH_DIR:-target/bench-segments}
NOW=2026-03-10T10:00:00Z

cargo build --quiet --profile "$PROFILE"
BIN=target/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/tend
mkdir -p "$DIR/campaigns" "$DIR/templates/bench" "$DIR/config"
DIR=$(cd "$DIR" && pwd)
DB="$DIR/contacts-$N.db"

cat >"$DIR/config/tend.toml" <<TOML
[database]
url = "sqlite://$DB"
[paths]
campaigns = "$DIR/campaigns"
templates = "$DIR/templates"
[attributes]
orders = "number"
plan = "text"
country = "text"
TOML
printf '+++\nsubject = "Hi"\n+++\nHello\n' >"$DIR/templates/bench/hello.tera"
segment() {
    printf 'description = "bench"\nsegment = %s\n\n[[steps]]\nafter = "0d"\ntemplate = "bench/hello"\n' "$2" >"$DIR/campaigns/$1.toml"
}
segment sleeping '{ stage = "sleeping" }'
segment customers '{ where = "tags has '"'"'customer'"'"' and attributes.orders >= 2" }'
segment win-back '{ stage = "sleeping", where = "tags has '"'"'customer'"'"' and attributes.orders >= 2 and attributes.plan in ['"'"'pro'"'"', '"'"'team'"'"'] and no event '"'"'purchase'"'"' within 90d" }'
segment buyers '{ where = "count(event '"'"'purchase'"'"') >= 2 and attributes.country = '"'"'DE'"'"'" }'

export TEND_CONFIG="$DIR/config/tend.toml"
if [ ! -f "$DB" ]; then
    echo "generating $N contacts into $DB …"
    "$BIN" migrate >/dev/null
    python3 - "$DB" "$N" <<'PY'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
now = 1773136800  # 2026-03-10T10:00:00Z
started = time.time()
c = sqlite3.connect(db)
c.executescript(f"""
PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
INSERT INTO contacts (email, domain, name, created_at, last_activity_at, timezone, tags, attributes, updated_at)
SELECT 'c' || i || '@example.com', 'example.com', 'Contact ' || i,
       {now} - 86400 * 30 - (i * 7919) % (86400 * 900),
       CASE WHEN i % 5 = 0 THEN NULL ELSE {now} - (i * 104729) % (86400 * 700) END,
       'Europe/Berlin',
       json_array(CASE i % 3 WHEN 0 THEN 'customer' WHEN 1 THEN 'trial' ELSE 'newsletter' END,
                  CASE WHEN i % 11 = 0 THEN 'vip' ELSE 'other' END),
       json_object('orders', i % 7, 'plan', CASE i % 4 WHEN 0 THEN 'pro' WHEN 1 THEN 'team' ELSE 'basic' END,
                   'country', CASE i % 3 WHEN 0 THEN 'DE' WHEN 1 THEN 'AT' ELSE 'FR' END),
       {now}
FROM k;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n})
INSERT INTO events (contact_id, kind, at, detail, source, created_at)
SELECT (i * 48271) % ({n} / 4) + 1, 'purchase', {now} - (i * 6007) % (86400 * 400), '', 'bench', {now}
FROM k WHERE i % 2 = 0;
COMMIT;
ANALYZE;
""")
c.close()
print(f"generated in {time.time() - started:.1f}s")
PY
fi

echo "tend segment count over $N contacts ($PROFILE build), best of 3:"
for id in sleeping customers win-back buyers; do
    best=""
    for _ in 1 2 3; do
        start=$(date +%s%N)
        out=$("$BIN" segment count "$id" --now "$NOW")
        ms=$((($(date +%s%N) - start) / 1000000))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    printf '  %-10s %6d ms   %s\n' "$id" "$best" "$out"
done
