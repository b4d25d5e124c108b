#!/usr/bin/env bash
# Installs whatever is missing for the platform on Debian 12: apt packages, TimescaleDB built
# from Debian's own source package, and the project's virtualenv. Every step checks first, so a
# second run only verifies.
#
#   deploy/install.sh            # services + venv
#   deploy/install.sh --browser  # also Chromium, for the dashboard's end-to-end tests
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/versions.sh
source "$ROOT/deploy/versions.sh"

WITH_BROWSER=0
for arg in "$@"; do
    case "$arg" in
        --browser) WITH_BROWSER=1 ;;
        *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[install] %s\n' "$*"; }

APT_PACKAGES=(
    "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
    build-essential cmake dpkg-dev libssl-dev
    mosquitto mosquitto-clients
    redis-server
    ca-certificates curl
)
if [ "$WITH_BROWSER" -eq 1 ]; then APT_PACKAGES+=(chromium); fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    $SUDO apt-get update -qq
    # Debian's packages start their own services on the standard ports; the project never uses
    # those and starts its own instances (deploy/stack.sh), so their start-up is left as Debian does.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "apt: all packages present"
fi

PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
TS_SO="$("$PG_CONFIG" --pkglibdir)/timescaledb-$TIMESCALEDB_UPSTREAM.so"
if [ -f "$TS_SO" ]; then
    log "timescaledb $TIMESCALEDB_UPSTREAM: installed"
else
    CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kol-telemonitoring/timescaledb-$TIMESCALEDB_DEBIAN"
    mkdir -p "$CACHE/apt/lists/partial" "$CACHE/apt/sources"
    if [ ! -f "$CACHE/src/build/Makefile" ]; then
        log "timescaledb: fetching Debian source $TIMESCALEDB_DEBIAN from $TIMESCALEDB_SUITE"
        cat > "$CACHE/apt/sources/timescaledb-src.sources" <<EOF
Types: deb-src
URIs: $DEBIAN_MIRROR
Suites: $TIMESCALEDB_SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        # A private apt state so that the system's sources stay bookworm-only.
        APT_PRIVATE=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$CACHE/apt/sources"
                     -o "Dir::State::Lists=$CACHE/apt/lists")
        apt-get "${APT_PRIVATE[@]}" update -qq
        rm -rf "$CACHE/src" "$CACHE"/timescaledb_*
        (cd "$CACHE" && apt-get "${APT_PRIVATE[@]}" source --download-only -qq \
            "timescaledb=$TIMESCALEDB_DEBIAN" 2>&1 | grep -v "unsandboxed" || true)
        dsc="$CACHE/timescaledb_${TIMESCALEDB_DEBIAN}.dsc"
        [ -f "$dsc" ] || { echo "install.sh: $TIMESCALEDB_DEBIAN not served by $TIMESCALEDB_SUITE; update deploy/versions.sh" >&2; exit 1; }
        dpkg-source --no-check -x "$dsc" "$CACHE/src" >/dev/null
        log "timescaledb: configuring (Apache-only edition)"
        (cd "$CACHE/src" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
            -DPG_CONFIG="$PG_CONFIG" >"$CACHE/bootstrap.log" 2>&1)
    fi
    log "timescaledb: building"
    make -C "$CACHE/src/build" -j"$(nproc)" >"$CACHE/build.log" 2>&1
    $SUDO make -C "$CACHE/src/build" install >"$CACHE/install.log" 2>&1
    log "timescaledb $TIMESCALEDB_UPSTREAM: installed into $("$PG_CONFIG" --pkglibdir)"
fi

VENV="$ROOT/.venv"
STAMP="$VENV/.kol-installed"
want=$(sha256sum < "$ROOT/pyproject.toml" | cut -d" " -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    log "venv: up to date"
else
    log "venv: installing the project and its dev dependencies into .venv"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip setuptools wheel
    "$VENV/bin/pip" install -q -e "$ROOT[dev]"
    echo "$want" > "$STAMP"
fi
