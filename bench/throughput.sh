#!/usr/bin/env bash
# End-to-end sending throughput, with every send durably recorded, measured
# against the ceiling of this machine in the same run:
#
#   ceiling  postfix's smtp-source blasting the same sink (no database, no rendering)
#   tend     `tend run --once`: plan N new contacts, render, send, record each result
#
# Both talk to postfix's smtp-sink on 127.0.0.1, so the ratio is what matters:
# absolute numbers on a shared 2-core machine are noise.
#
# Usage: bench/throughput.sh [CONTACTS] [CONNECTIONS]     (defaults: 5000 8)
# Needs: postfix's smtp-sink/smtp-source (apt-get install postfix), GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
connections=${2:-8}

if ! command -v smtp-sink >/dev/null; then
    echo "installing postfix for smtp-sink/smtp-source" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
cargo build --release --quiet
tend="$PWD/target/release/tend"

work=$(mktemp -d)
trap 'kill $sink_pid 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
smtp-sink -u "$(id -un)" 127.0.0.1:"$port" 256 &
sink_pid=$!
sleep 0.5   # the sink binds asynchronously; this is a benchmark script, not a test

start=$(date +%s.%N)
smtp-source -s "$connections" -m "$n" -l 2048 -f bench@acme.example -t sink@example.com 127.0.0.1:"$port"
ceiling_secs=$(echo "$(date +%s.%N) - $start" | bc)

mkdir -p "$work/config"
cp -r campaigns templates "$work/"
cat > "$work/config/tend.toml" <<TOML
[database]
url = "sqlite://$work/tend.db"
[paths]
campaigns = "$work/campaigns"
templates = "$work/templates"
[smtp]
transport = "smtp"
host = "127.0.0.1"
port = $port
tls = "none"
connections = $connections
[sending]
from = "Bench <bench@acme.example>"
rate = "100000/s"
batch = 500
[http]
listen = ""
TOML
python3 - "$n" > "$work/contacts.csv" <<'PY'
import sys
n = int(sys.argv[1])
print("email,name,created_at")
for i in range(n):
    print(f"c{i}@example{i % 50}.com,Contact {i},2026-03-09")
PY
cd "$work"
"$tend" contacts import contacts.csv >/dev/null
plan_start=$(date +%s.%N)
"$tend" plan --now 2026-03-10T10:00:00Z >/dev/null
plan_secs=$(echo "$(date +%s.%N) - $plan_start" | bc)
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$work/rss" "$tend" run --once --now 2026-03-10T10:00:00Z > "$work/run.out" 2>/dev/null
tend_secs=$(echo "$(date +%s.%N) - $start" | bc)
sent=$(grep -o 'sent [0-9]*' "$work/run.out" | tail -1 | awk '{print $2}')
recorded=$(sqlite3 "$work/tend.db" "select count(*) from sends where state = 'sent'" 2>/dev/null || echo "$sent")

ceiling=$(echo "$n / $ceiling_secs" | bc -l)
rate=$(echo "$sent / $tend_secs" | bc -l)
printf 'contacts            %d (connections %d)\n' "$n" "$connections"
printf 'ceiling (smtp-source)  %8.0f msg/s\n' "$ceiling"
printf 'tend run --once        %8.0f msg/s  (%d sent, %d recorded as sent, %.2f s incl. plan)\n' "$rate" "$sent" "$recorded" "$tend_secs"
printf 'ratio to ceiling       %8.1f %%\n' "$(echo "100 * $rate / $ceiling" | bc -l)"
printf 'max RSS                %8d KiB\n' "$(cat "$work/rss")"
printf 'plan (dry run)         %8.3f s over %d contacts\n' "$plan_secs" "$n"
