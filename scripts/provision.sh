#!/usr/bin/env bash
# Make sure this (Debian) machine has what Folio needs to build, run and test:
#   - pkg-config and libpq-dev (the CLibPQ system library target)
#   - the PostgreSQL server binaries: initdb, pg_ctl, postgres (embedded cluster, tests)
#   - the PostgreSQL client tools: psql, pg_dump, pgbench
#   - a `postgres` system user (the embedded cluster runs as it when we are root,
#     because initdb refuses to run as root)
#   - swift (on PATH or under /opt/swift/usr/bin)
# and, best-effort, docker-compose (Debian's v1) so the tests can validate
# docker-compose.yml.
#
# Missing packages are installed with apt-get when running as root; otherwise the
# exact command to run is printed and the script exits 1. Quiet and idempotent:
# prints a single "provision: ok" when everything is already there.
#
# Environment:
#   FOLIO_PROVISION_SKIP_COMPOSE=1   do not try to install docker-compose
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

log() { printf 'provision: %s\n' "$*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

have_apt() { command -v apt-get >/dev/null 2>&1; }

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        apt-get update -qq || return 1
        APT_UPDATED=1
    fi
}

# Does apt know an installable (non-virtual) package of this name?
apt_has_candidate() {
    local cand
    cand=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
    [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

# Prints the first file matching a PostgreSQL binary name: on PATH, else the
# newest /usr/lib/postgresql/*/bin/NAME.
find_pg_bin() {
    local name=$1 p
    if p=$(command -v "$name" 2>/dev/null); then
        printf '%s\n' "$p"
        return 0
    fi
    # Newest major version last after a version sort.
    p=$(printf '%s\n' /usr/lib/postgresql/*/bin/"$name" | sort -V | tail -n 1)
    if [ -n "$p" ] && [ -x "$p" ]; then
        printf '%s\n' "$p"
        return 0
    fi
    return 1
}

# A client tool really works (the Debian pg_wrapper in /usr/bin exists even when
# the versioned binary behind it does not).
client_tool_works() {
    local name=$1 p
    p=$(find_pg_bin "$name") || return 1
    "$p" --version >/dev/null 2>&1
}

# Major version of the installed (or about to be installed) PostgreSQL server.
pg_major() {
    local p v
    if p=$(find_pg_bin postgres); then
        v=$("$p" --version 2>/dev/null | awk '{print $NF}' | cut -d. -f1)
        [ -n "$v" ] && { printf '%s\n' "$v"; return 0; }
    fi
    # From the `postgresql` metapackage's dependency, e.g. postgresql-15.
    apt-cache depends postgresql 2>/dev/null |
        awk '/Depends: postgresql-[0-9]+$/ {sub(/.*postgresql-/, ""); print; exit}'
}

# Which package ships pgbench on this release. Before PostgreSQL 10's packaging
# (Debian <= 9) it was the real package postgresql-contrib-NN; since then it is in
# the server package postgresql-NN (postgresql-contrib-NN is only a virtual name).
pgbench_package() {
    local owner major
    # Already installed somewhere? dpkg knows who owns it.
    local f
    for f in /usr/lib/postgresql/*/bin/pgbench; do
        [ -e "$f" ] || continue
        owner=$(dpkg -S "$f" 2>/dev/null | cut -d: -f1 | head -n 1 || true)
        [ -n "$owner" ] && { printf '%s\n' "$owner"; return 0; }
    done
    major=$(pg_major || true)
    if [ -n "$major" ] && apt-cache show "postgresql-contrib-$major" 2>/dev/null | grep -q '^Package:'; then
        printf '%s\n' postgresql-contrib
    elif apt_has_candidate postgresql-contrib; then
        # Metapackage: pulls the server package that carries pgbench (and the
        # contrib modules), whatever the layout.
        printf '%s\n' postgresql-contrib
    else
        printf '%s\n' postgresql
    fi
}

find_swift() {
    if command -v swift >/dev/null 2>&1; then
        return 0
    fi
    [ -x /opt/swift/usr/bin/swift ]
}

# ---------------------------------------------------------------------------
# What is missing?

missing=()       # apt packages to install
need_pgbench=0

command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)

if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists libpq 2>/dev/null; then
    missing+=(libpq-dev)
fi

server_ok=1
for b in initdb pg_ctl postgres; do
    find_pg_bin "$b" >/dev/null || server_ok=0
done
[ "$server_ok" -eq 1 ] || missing+=(postgresql)

client_ok=1
for b in psql pg_dump; do
    client_tool_works "$b" || client_ok=0
done
[ "$client_ok" -eq 1 ] || missing+=(postgresql-client)

client_tool_works pgbench || need_pgbench=1

swift_ok=1
find_swift || swift_ok=0

# ---------------------------------------------------------------------------
# Swift is not a Debian package on bookworm: we can only say how to get it.

if [ "$swift_ok" -eq 0 ]; then
    log "swift not found on PATH nor at /opt/swift/usr/bin/swift."
    log "Install a Swift 6.1+ toolchain for this distribution (swift.org/install/linux)"
    log "into /opt/swift (so that /opt/swift/usr/bin/swift exists), then re-run."
    exit 1
fi

# ---------------------------------------------------------------------------
# Install what is missing.

if [ "${#missing[@]}" -gt 0 ] || [ "$need_pgbench" -eq 1 ]; then
    if ! have_apt; then
        what="${missing[*]:-}"
        [ "$need_pgbench" -eq 1 ] && what="$what pgbench"
        log "missing:$what; no apt-get on this machine."
        log "Install them with your package manager, then re-run."
        exit 1
    fi
    if ! is_root; then
        pkgs=("${missing[@]}")
        [ "$need_pgbench" -eq 1 ] && pkgs+=(postgresql-contrib)
        log "missing packages; run:"
        printf '  sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n' "${pkgs[*]}" >&2
        exit 1
    fi
    apt_update_once || { log "apt-get update failed"; exit 1; }
    if [ "$need_pgbench" -eq 1 ]; then
        missing+=("$(pgbench_package)")
    fi
    # de-duplicate, keep order
    mapfile -t pkgs < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')
    log "apt-get install ${pkgs[*]}"
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# The Debian postgresql-common package creates the user; make sure it is there
# even if it was removed by hand or the binaries came from elsewhere.
if ! getent passwd postgres >/dev/null 2>&1; then
    if is_root; then
        log "creating system user postgres"
        if command -v adduser >/dev/null 2>&1; then
            adduser --system --quiet --home /var/lib/postgresql --no-create-home \
                --shell /bin/bash --group --gecos "PostgreSQL administrator" postgres
        else
            useradd --system --user-group --home-dir /var/lib/postgresql \
                --shell /bin/bash --comment "PostgreSQL administrator" postgres
        fi
    else
        log "no 'postgres' system user; run:"
        printf '  sudo adduser --system --home /var/lib/postgresql --no-create-home --shell /bin/bash --group postgres\n' >&2
        exit 1
    fi
fi

# ---------------------------------------------------------------------------
# Verify.

fail=0
command -v pkg-config >/dev/null 2>&1 || { log "still missing: pkg-config"; fail=1; }
pkg-config --exists libpq 2>/dev/null || { log "still missing: libpq (pkg-config --exists libpq)"; fail=1; }
for b in initdb pg_ctl postgres; do
    find_pg_bin "$b" >/dev/null || { log "still missing: $b"; fail=1; }
done
for b in psql pg_dump pgbench; do
    client_tool_works "$b" || { log "still missing: $b"; fail=1; }
done
[ "$fail" -eq 0 ] || exit 1

# ---------------------------------------------------------------------------
# Best-effort: docker-compose (v1, Debian package) to validate docker-compose.yml.

if ! command -v docker-compose >/dev/null 2>&1 && [ "${FOLIO_PROVISION_SKIP_COMPOSE:-0}" != 1 ]; then
    if is_root && have_apt; then
        if ( apt_update_once && apt-get install -y -qq --no-install-recommends docker-compose >/dev/null ) 2>/dev/null; then
            log "installed docker-compose"
        else
            log "note: could not install docker-compose; docker-compose.yml checks will be skipped"
        fi
    fi
fi

echo "provision: ok"
