#!/usr/bin/env bash
# Runs the benchmarks of the libpq wrapper next to pgbench and psql on one durable,
# freshly created embedded PostgreSQL cluster, and prints a Markdown table.
# Usage: scripts/bench.sh [FolioBench options]   (e.g. --seconds 20 --copy-rows 1000000)
#   --suite wrapper    the libpq wrapper against pgbench and psql (default)
#   --suite store      event store appends and a 1,000,000-event catch-up (--catch-up-events)
#   --suite core       the domain core: transform and re-anchoring on a 50 KB Hindi article
#   --suite projector  a projector rebuild from 1,000,000 events next to COPY
#   --suite server     HTTP appends (in-process clients, and wrk when installed), sync catch-up over HTTP, live-stream latency
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
