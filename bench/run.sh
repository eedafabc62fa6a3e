#!/usr/bin/env bash
# One benchmark run of tend, side by side with what the machine allows:
#
#   ceiling   postfix's smtp-source into smtp-sink (no database, no rendering)
#   e2e       `tend run --once` (tick, claim, render, send, record every result)
#             into the same sink at the same connection count, on SQLite and
#             on PostgreSQL (a throwaway database, dropped afterwards)
#   plan      the real tick (enrol and queue) and the dry-run `tend plan`
#             over generated lists (100k by default, 1M with --full)
#   import    `tend contacts import` of the same lists
#   render    the divan benchmark in benches/render.rs (messages/s, one core)
#   RSS, database size, and median [min–max] over --reps repetitions.
#
# Usage: bench/run.sh [--full] [--reps N] [--contacts N] [--connections N]
#                     [--plan-sizes 100000,1000000] [--drain SIZE] [--no-pg]
#                     [--write bench/RESULTS.md]
# Needs: postfix's smtp-sink/smtp-source, GNU time, python3, and for
# PostgreSQL a server on 127.0.0.1:5432 (user postgres/postgres, or
# TEND_BENCH_POSTGRES=postgres://user:pass@host:port).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v smtp-sink >/dev/null; then
    echo "installing postfix for smtp-sink/smtp-source" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
cargo build --release --quiet --bin tend
cargo bench --quiet --no-run --bench render
exec python3 bench/bench.py "$@"
