#!/usr/bin/env bash
# Installs whatever is missing for the platform on Debian 12: apt packages, TimescaleDB built
# from Debian's own source package, and the project's virtualenv. Every step checks first, so a
# second run only verifies.
#
#   deploy/install.sh            # services + venv
#   deploy/install.sh --browser  # also Chromium, for the dashboard's end-to-end tests
#   deploy/install.sh --no-venv  # the services only (deploy/ha/Dockerfile: the image of the
#                                # multi-host layout's databases, brokers and balancers)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/versions.sh
source "$ROOT/deploy/versions.sh"

WITH_BROWSER=0
WITH_VENV=1
for arg in "$@"; do
    case "$arg" in
        --browser) WITH_BROWSER=1 ;;
        --no-venv) WITH_VENV=0 ;;
        *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

log() { printf '[install] %s\n' "$*"; }

APT_PACKAGES=(
    "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
    build-essential cmake dpkg-dev libssl-dev
    mosquitto mosquitto-clients libwebsockets-dev libcjson-dev
    redis-server openssl
    ca-certificates curl
    # High availability (docs/operations.md, make ha-test): etcd for Patroni's consensus, Patroni
    # from Debian (it runs as the unprivileged stack user under the system Python, which can
    # reach neither a root-owned virtualenv nor PyPI's build), HAProxy in front of the API nodes,
    # the brokers and Redis, keepalived moving the load balancers' floating address (Redis
    # Sentinel is redis-server's own mode); iproute2 for the test's network namespaces.
    etcd-server patroni python3-idna haproxy keepalived iproute2
)
if [ "$WITH_BROWSER" -eq 1 ]; then APT_PACKAGES+=(chromium); fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if [ "$WITH_VENV" -eq 1 ]; then
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then missing+=(python3-venv); fi
    # The browser packages (package.json) need npm; a machine that has Node.js from elsewhere
    # keeps it.
    if ! command -v npm >/dev/null; then missing+=(nodejs npm); fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
    log "apt: installing ${missing[*]}"
    $SUDO apt-get update -qq
    # Debian's packages start their own services on the standard ports; the project never uses
    # those and starts its own instances (deploy/stack.sh), so their start-up is left as Debian does.
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    log "apt: all packages present"
fi

# fetch_debian_source PACKAGE VERSION SUITE DIR: the Debian source package unpacked into DIR/src,
# fetched through a private apt state so that the system's sources stay bookworm-only.
fetch_debian_source() {
    local package=$1 version=$2 suite=$3 cache=$4
    mkdir -p "$cache/apt/lists/partial" "$cache/apt/sources"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n' \
        "$DEBIAN_MIRROR" "$suite" /usr/share/keyrings/debian-archive-keyring.gpg \
        > "$cache/apt/sources/$package-src.sources"
    local private=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$cache/apt/sources"
                   -o "Dir::State::Lists=$cache/apt/lists")
    apt-get "${private[@]}" update -qq
    rm -rf "${cache:?}/src" "${cache:?}/${package:?}"_*
    (cd "$cache" && apt-get "${private[@]}" source --download-only -qq "$package=$version" 2>&1 \
        | grep -v "unsandboxed" || true)
    local dsc="$cache/${package}_${version}.dsc"
    [ -f "$dsc" ] || { echo "install.sh: $package $version not served by $suite; update deploy/versions.sh" >&2; exit 1; }
    dpkg-source --no-check -x "$dsc" "$cache/src" >/dev/null
}

PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
TS_SO="$("$PG_CONFIG" --pkglibdir)/timescaledb-$TIMESCALEDB_UPSTREAM.so"
if [ -f "$TS_SO" ]; then
    log "timescaledb $TIMESCALEDB_UPSTREAM: installed"
else
    CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kol-telemonitoring/timescaledb-$TIMESCALEDB_DEBIAN"
    if [ ! -f "$CACHE/src/build/Makefile" ]; then
        log "timescaledb: fetching Debian source $TIMESCALEDB_DEBIAN from $TIMESCALEDB_SUITE"
        fetch_debian_source timescaledb "$TIMESCALEDB_DEBIAN" "$TIMESCALEDB_SUITE" "$CACHE"
        log "timescaledb: configuring (Apache-only edition)"
        (cd "$CACHE/src" && ./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
            -DPG_CONFIG="$PG_CONFIG" >"$CACHE/bootstrap.log" 2>&1)
    fi
    log "timescaledb: building"
    make -C "$CACHE/src/build" -j"$(nproc)" >"$CACHE/build.log" 2>&1
    $SUDO make -C "$CACHE/src/build" install >"$CACHE/install.log" 2>&1
    log "timescaledb $TIMESCALEDB_UPSTREAM: installed into $("$PG_CONFIG" --pkglibdir)"
fi

# Debian 12's Mosquitto 2.0.11 is built without websockets, and browsers speak MQTT over secure
# websockets; so the broker is Debian trixie's 2.0.21 built with them, in a prefix of its own
# (the system's mosquitto stays as Debian installed it).
if [ -x "$MOSQUITTO_PREFIX/sbin/mosquitto" ]; then
    log "mosquitto $MOSQUITTO_UPSTREAM: installed"
else
    CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/kol-telemonitoring/mosquitto-$MOSQUITTO_DEBIAN"
    if [ ! -f "$CACHE/src/CMakeLists.txt" ]; then
        log "mosquitto: fetching Debian source $MOSQUITTO_DEBIAN from $MOSQUITTO_SUITE"
        fetch_debian_source mosquitto "$MOSQUITTO_DEBIAN" "$MOSQUITTO_SUITE" "$CACHE"
    fi
    log "mosquitto: building with websockets"
    rm -rf "${CACHE:?}/build"
    cmake -S "$CACHE/src" -B "$CACHE/build" -DCMAKE_INSTALL_PREFIX="$MOSQUITTO_PREFIX" \
        -DWITH_WEBSOCKETS=ON -DDOCUMENTATION=OFF -DWITH_SRV=OFF -DWITH_SYSTEMD=OFF \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_RPATH="$MOSQUITTO_PREFIX/lib" >"$CACHE/cmake.log" 2>&1
    make -C "$CACHE/build" -j"$(nproc)" >"$CACHE/build.log" 2>&1
    $SUDO make -C "$CACHE/build" install >"$CACHE/install.log" 2>&1
    log "mosquitto $MOSQUITTO_UPSTREAM: installed into $MOSQUITTO_PREFIX"
fi

# Run as root, deploy/stack.sh runs the databases and the broker as this unprivileged user.
if [ "$(id -u)" -eq 0 ] && ! id -u "${KOL_STACK_USER:-kol}" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "${KOL_STACK_USER:-kol}"
    log "user ${KOL_STACK_USER:-kol}: created (runs the stack's databases and broker)"
fi

if [ "$WITH_VENV" -eq 0 ]; then
    log "venv and npm: left out (--no-venv)"
    exit 0
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

NODE_STAMP="$ROOT/node_modules/.kol-installed"
want_node=$(sha256sum < "$ROOT/package-lock.json" | cut -d" " -f1)
if [ -f "$NODE_STAMP" ] && [ "$(cat "$NODE_STAMP")" = "$want_node" ]; then
    log "npm: up to date"
else
    log "npm: installing the browser packages of package-lock.json into node_modules"
    (cd "$ROOT" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null)
    echo "$want_node" > "$NODE_STAMP"
fi
