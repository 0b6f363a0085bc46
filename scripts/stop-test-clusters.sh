#!/usr/bin/env bash
# Usage: scripts/stop-test-clusters.sh DIR
#
# Stops every PostgreSQL server still running from a data directory below DIR
# (throwaway clusters left behind by a test run that crashed or was interrupted).
# For each postmaster.pid found: read its first line (the postmaster's PID) and,
# if that process is alive and is a postgres, send SIGTERM; after 5 s also SIGINT
# (fast shutdown, in case clients are still connected); after 10 s SIGKILL.
# Stale pid files are ignored. Always exits 0 unless called wrongly.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 64
fi
dir=$1
[ -d "$dir" ] || exit 0

log() { printf 'stop-test-clusters: %s\n' "$*" >&2; }

# Alive and not a zombie (an exited postmaster may wait a moment to be reaped).
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# Is PID a PostgreSQL server process? (guards against a reused PID from a stale file)
is_postgres() {
    local comm
    comm=$(cat "/proc/$1/comm" 2>/dev/null || ps -o comm= -p "$1" 2>/dev/null || true)
    case "$comm" in
        postgres*|postmaster*) return 0 ;;
        *) return 1 ;;
    esac
}

while IFS= read -r -d '' pidfile; do
    pid=$(head -n 1 "$pidfile" 2>/dev/null | tr -dc '0-9' || true)
    datadir=$(dirname "$pidfile")
    if [ -z "$pid" ] || [ "$pid" -le 1 ]; then
        continue
    fi
    if ! alive "$pid" || ! is_postgres "$pid"; then
        continue
    fi
    log "stopping postgres pid $pid (data directory $datadir)"
    kill -TERM "$pid" 2>/dev/null || true
    # Wait up to 10 s, polling every 0.2 s.
    for i in $(seq 1 50); do
        alive "$pid" || break
        if [ "$i" -eq 25 ]; then
            kill -INT "$pid" 2>/dev/null || true
        fi
        sleep 0.2
    done
    if alive "$pid"; then
        log "pid $pid still running after 10 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 1 25); do
            alive "$pid" || break
            sleep 0.2
        done
    fi
    if alive "$pid"; then
        log "warning: pid $pid did not exit"
    fi
done < <(find "$dir" -name postmaster.pid -type f -print0 2>/dev/null)

exit 0
