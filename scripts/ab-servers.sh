#!/bin/bash
# Compares two builds of `folio serve` on one machine, under the same load, alternately:
# server A owns an embedded durable cluster, server B serves the same database, and each round
# runs wrk's single-event appends (16 connections) against A, then B. Drift in a noisy machine
# then hits both alike; swap A and B to check that order does not decide. Not a test.
#
#   scripts/ab-servers.sh OLD_FOLIO NEW_FOLIO [rounds] [seconds]
#   AENV="FOLIO_X=1" BENV="..." scripts/ab-servers.sh folio folio      # same build, other settings
#
# Prints one line per run (server, requests/s, server CPU µs per request) and the medians.
set -euo pipefail
ABIN=$(realpath "$1"); BBIN=$(realpath "$2"); ROUNDS=${3:-8}; SECS=${4:-3}
MIGRATIONS=${FOLIO_MIGRATIONS_DIR:-$(cd "$(dirname "$0")/.." && pwd)/migrations}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 69; }
WORK=$(mktemp -d /tmp/folio-ab.XXXXXX)
chmod 777 "$WORK"
cleanup() {
  for pid in ${PB:-} ${PA:-}; do kill "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.3; done; done
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
env ${AENV:-} FOLIO_MIGRATIONS_DIR="$MIGRATIONS" FOLIO_LOG_LEVEL=warning "$ABIN" serve --listen 127.0.0.1:18180 \
  --embedded-dir "$WORK/pg" --no-projector > "$WORK/a.out" 2>&1 &
PA=$!
for _ in $(seq 1 100); do curl -s 127.0.0.1:18180/readyz | grep -q current && break; sleep 0.3; done
PORT=$(grep -o "embedded PostgreSQL on 127.0.0.1:[0-9]*" "$WORK/a.out" | cut -d: -f2)
URL="postgresql://folio:$(cat "$WORK/pg/password")@127.0.0.1:$PORT/folio"
env ${BENV:-} FOLIO_DATABASE_URL="$URL" FOLIO_MIGRATIONS_DIR="$MIGRATIONS" FOLIO_LOG_LEVEL=warning "$BBIN" serve \
  --listen 127.0.0.1:18181 --no-projector > "$WORK/b.out" 2>&1 &
PB=$!
for _ in $(seq 1 100); do curl -s 127.0.0.1:18181/readyz | grep -q current && break; sleep 0.3; done
TOKEN=$(grep -o "folio_[A-Za-z0-9_-]*" "$WORK/a.out" | tail -1)
# The benchmark's request (ServerBench.wrkScript): new event and article ids every time.
cat > "$WORK/append.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local run, n = 0, 0
function init(args) run = (os.time() * 7 + math.random(1, 100000)) % 0x10000000 end
local function id() n = n + 1; return string.format("%08x-%04x-4000-8000-%012x", run, tid, n) end
local before = [[{"events": [{"id": "]]
local middle = [[", "type": "ArticleCreated", "data": {"articleId": "]]
local after = [[", "language": "hi", "slug": "barish", "text": "नई दिल्ली: मौसम विभाग ने आज भारी बारिश की चेतावनी दी। यातायात धीमा रहा।", "title": "दिल्ली में बारिश"}}]}]]
request = function() local event = id(); local article = id(); return wrk.format(nil, nil, nil, before .. event .. middle .. article .. after) end
LUA
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
: > "$WORK/runs"
for _ in $(seq 1 "$ROUNDS"); do
  for s in A B; do
    if [ $s = A ]; then pid=$PA; port=18180; else pid=$PB; port=18181; fi
    before=$(ticks $pid)
    out=$(wrk -t 2 -c 16 -d "${SECS}s" -s "$WORK/append.lua" "http://127.0.0.1:$port/v1/events")
    after=$(ticks $pid)
    if echo "$out" | grep -q "Non-2xx"; then echo "server $s answered other than 200:" >&2; echo "$out" >&2; exit 1; fi
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    rate=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    echo "$s $rate $(( (after - before) * 1000000 / $(getconf CLK_TCK) / n ))" | tee -a "$WORK/runs"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for s in A B; do
  echo "$s: median $(awk -v s=$s '$1==s {print $2}' "$WORK/runs" | median) requests/s, $(awk -v s=$s '$1==s {print $3}' "$WORK/runs" | median) µs server CPU per request"
done
