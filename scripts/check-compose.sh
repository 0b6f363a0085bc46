#!/usr/bin/env bash
# Validates docker-compose.yml with `docker-compose config -q` (Debian's v1).
# Exits 0 with a "skip" message when docker-compose is not installed; otherwise
# exits with docker-compose's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
    echo "check-compose: skip (docker-compose not installed)"
    exit 0
fi

status=0
docker-compose -f docker-compose.yml config -q || status=$?
if [ "$status" -eq 0 ]; then
    echo "check-compose: docker-compose.yml ok"
fi
exit "$status"
