#!/usr/bin/env bash
# Runs the benchmarks of the libpq wrapper next to pgbench and psql on one durable,
# freshly created embedded PostgreSQL cluster, and prints a Markdown table.
# Usage: scripts/bench.sh [FolioBench options]   (e.g. --seconds 20 --copy-rows 1000000;
#        --suite store for the event store: appends and a 1,000,000-event catch-up)
# `make bench` builds the release binary first. The table is also saved under .build/.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=.build/release/FolioBench
if [ ! -x "$binary" ]; then
    echo "bench: $binary missing; run: swift build -c release --product FolioBench" >&2
    exit 1
fi
out=".build/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
"$binary" "$@" | tee "$out"
echo "bench: saved to $out (copy the table into docs/performance.md with a note)" >&2
