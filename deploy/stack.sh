#!/usr/bin/env bash
# Starts, stops and reports the project's own PostgreSQL+TimescaleDB, Mosquitto and Redis, each on
# its own port with its state under $KOL_STACK_DIR, and writes the connection settings the
# services read ($KOL_STACK_DIR/kol.env).
#
#   deploy/stack.sh up     [pg|mqtt|redis ...]   start (all by default); a running one is kept
#   deploy/stack.sh down   [pg|mqtt|redis ...]   stop
#   deploy/stack.sh status                       what runs, where
#   deploy/stack.sh env                          print the path of the settings file
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/versions.sh
source "$ROOT/deploy/versions.sh"

STACK="$KOL_STACK_DIR"
PGBIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PGDATA="$STACK/pg"
MQDIR="$STACK/mosquitto"
RDDIR="$STACK/redis"
SECRETS="$STACK/secrets.env"
ENV_FILE="$STACK/kol.env"
DYNSEC_PLUGIN="${DYNSEC_PLUGIN:-$(ls /usr/lib/*/mosquitto_dynamic_security.so 2>/dev/null | head -n1)}"
MQTT_ADMIN_USER="kol-broker-admin"
MQTT_GATEWAY_USER="kol-gateway"

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
# PostgreSQL will not run as root; root runs it as Debian's postgres user.
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_dirs() {
    mkdir -p "$STACK" "$MQDIR/data" "$RDDIR" "$STACK/run"
    chmod 755 "$STACK"
    if is_root; then
        chown postgres:postgres "$STACK/run"
        chown -R mosquitto:mosquitto "$MQDIR" 2>/dev/null || true
    fi
}

secret() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

ensure_secrets() {
    if [ ! -f "$SECRETS" ]; then
        umask 077
        cat > "$SECRETS" <<EOF
KOL_PG_PASSWORD=$(secret)
KOL_MQTT_ADMIN_PASSWORD=$(secret)
KOL_MQTT_GATEWAY_PASSWORD=$(secret)
KOL_JWT_SECRET=$(secret)$(secret)
EOF
    fi
    # shellcheck disable=SC1090
    source "$SECRETS"
}

write_env() {
    umask 077
    cat > "$ENV_FILE" <<EOF
# Written by deploy/stack.sh; the services read it through core.settings (KOL_ENV_FILE).
KOL_DATABASE_URL=postgresql://kol:$KOL_PG_PASSWORD@127.0.0.1:$KOL_PG_PORT/kol
KOL_MQTT_HOST=127.0.0.1
KOL_MQTT_PORT=$KOL_MQTT_PORT
KOL_MQTT_GATEWAY_USERNAME=$MQTT_GATEWAY_USER
KOL_MQTT_GATEWAY_PASSWORD=$KOL_MQTT_GATEWAY_PASSWORD
KOL_MQTT_ADMIN_USERNAME=$MQTT_ADMIN_USER
KOL_MQTT_ADMIN_PASSWORD=$KOL_MQTT_ADMIN_PASSWORD
KOL_REDIS_URL=redis://127.0.0.1:$KOL_REDIS_PORT/0
KOL_JWT_SECRET=$KOL_JWT_SECRET
KOL_API_PORT=$KOL_API_PORT
KOL_STACK_DIR=$STACK
EOF
}

wait_port() {
    local port=$1 what=$2
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$what did not open port $port"
}

pg_running() { [ -f "$PGDATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

pg_up() {
    [ -x "$PGBIN/initdb" ] || die "PostgreSQL $PG_MAJOR is not installed; run deploy/install.sh"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        log "postgres: initialising $PGDATA"
        mkdir -p "$PGDATA"
        is_root && chown postgres:postgres "$PGDATA"
        local pwfile="$STACK/run/pwfile"
        printf '%s\n' "$KOL_PG_PASSWORD" > "$pwfile"
        is_root && chown postgres "$pwfile"
        as_pg "$PGBIN/initdb" -D "$PGDATA" -U kol --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$STACK/initdb.log"
        rm -f "$pwfile"
        echo "include 'kol.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
    fi
    # Rewritten on every start so that a change here takes effect on the next restart.
    as_pg tee "$PGDATA/kol.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $KOL_PG_PORT
unix_socket_directories = '$STACK/run'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 300
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 256MB
wal_compression = on
max_wal_size = 4GB
checkpoint_timeout = 15min
# Durability is the promise to the patients: every acknowledged reading is on disk.
fsync = on
synchronous_commit = on
log_min_duration_statement = 1000
timezone = 'UTC'
EOF
    if pg_running; then
        log "postgres: running on 127.0.0.1:$KOL_PG_PORT"
    else
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STACK/run/postgres.log" -w -t 60 start >/dev/null \
            || { tail -n 20 "$STACK/run/postgres.log" >&2; die "postgres did not start"; }
        log "postgres: started on 127.0.0.1:$KOL_PG_PORT"
    fi
    if ! PGPASSWORD="$KOL_PG_PASSWORD" psql -qtA -h 127.0.0.1 -p "$KOL_PG_PORT" -U kol -d postgres \
        -c "select 1 from pg_database where datname = 'kol'" | grep -q 1; then
        PGPASSWORD="$KOL_PG_PASSWORD" psql -q -h 127.0.0.1 -p "$KOL_PG_PORT" -U kol -d postgres \
            -c "create database kol"
    fi
}

pg_down() {
    if pg_running; then
        as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        log "postgres: stopped"
    fi
}

mqtt_pid() { [ -f "$MQDIR/mosquitto.pid" ] && cat "$MQDIR/mosquitto.pid"; }
mqtt_running() { local pid; pid=$(mqtt_pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

mqtt_up() {
    [ -n "$DYNSEC_PLUGIN" ] || die "mosquitto's dynamic-security plugin not found; run deploy/install.sh"
    if [ ! -f "$MQDIR/dynamic-security.json" ]; then
        mosquitto_ctrl dynsec init "$MQDIR/dynamic-security.json" "$MQTT_ADMIN_USER" \
            "$KOL_MQTT_ADMIN_PASSWORD" >/dev/null
    fi
    sh "$ROOT/deploy/mosquitto/write-config.sh" "$MQDIR/mosquitto.conf" 127.0.0.1 "$KOL_MQTT_PORT" \
        "$DYNSEC_PLUGIN" "$MQDIR"
    ensure_dirs
    if mqtt_running; then
        log "mosquitto: running on 127.0.0.1:$KOL_MQTT_PORT"
    else
        rm -f "$MQDIR/mosquitto.pid"
        mosquitto -c "$MQDIR/mosquitto.conf" -d
        wait_port "$KOL_MQTT_PORT" mosquitto
        log "mosquitto: started on 127.0.0.1:$KOL_MQTT_PORT"
    fi
    sh "$ROOT/deploy/mosquitto/accounts.sh" 127.0.0.1 "$KOL_MQTT_PORT" "$MQTT_ADMIN_USER" \
        "$KOL_MQTT_ADMIN_PASSWORD" "$MQTT_GATEWAY_USER" "$KOL_MQTT_GATEWAY_PASSWORD"
}

mqtt_down() {
    if mqtt_running; then
        local pid; pid=$(mqtt_pid)
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        log "mosquitto: stopped"
    fi
}

redis_cli() { redis-cli -h 127.0.0.1 -p "$KOL_REDIS_PORT" "$@"; }
redis_running() { redis_cli ping >/dev/null 2>&1; }

redis_up() {
    if redis_running; then
        log "redis: running on 127.0.0.1:$KOL_REDIS_PORT"
    else
        redis-server --port "$KOL_REDIS_PORT" --bind 127.0.0.1 --dir "$RDDIR" --daemonize yes \
            --pidfile "$RDDIR/redis.pid" --logfile "$RDDIR/redis.log" --appendonly yes --save ""
        wait_port "$KOL_REDIS_PORT" redis
        log "redis: started on 127.0.0.1:$KOL_REDIS_PORT"
    fi
}

redis_down() {
    if redis_running; then redis_cli shutdown >/dev/null 2>&1 || true; log "redis: stopped"; fi
}

services() { if [ $# -eq 0 ]; then echo pg mqtt redis; else echo "$@"; fi; }

cmd="${1:-status}"; shift || true
case "$cmd" in
    up)
        ensure_dirs; ensure_secrets; write_env
        for s in $(services "$@"); do "${s}_up"; done
        log "settings: $ENV_FILE"
        ;;
    down)
        for s in $(services "$@"); do "${s}_down"; done
        ;;
    status)
        pg_running && echo "postgres  up    127.0.0.1:$KOL_PG_PORT" || echo "postgres  down"
        mqtt_running && echo "mosquitto up    127.0.0.1:$KOL_MQTT_PORT" || echo "mosquitto down"
        redis_running && echo "redis     up    127.0.0.1:$KOL_REDIS_PORT" || echo "redis     down"
        echo "state     $STACK"
        ;;
    env) echo "$ENV_FILE" ;;
    *) die "usage: stack.sh up|down|status|env [pg|mqtt|redis ...]" ;;
esac
