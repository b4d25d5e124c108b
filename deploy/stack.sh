#!/usr/bin/env bash
# Starts, stops and reports the project's own PostgreSQL+TimescaleDB, Mosquitto and Redis, each on
# its own port with its state under $KOL_STACK_DIR, and writes the connection settings the
# services read ($KOL_STACK_DIR/kol.env).
#
#   deploy/stack.sh up     [pg|mqtt|redis ...]   start (all by default); a running one is kept
#   deploy/stack.sh down   [pg|mqtt|redis ...]   stop
#   deploy/stack.sh status                       what runs, where
#   deploy/stack.sh env                          print the path of the settings file
#
# The state directory is private (0700, owned by the stack's user) and refused when it is not:
# it holds the secrets and the settings the services trust. Run as root, the databases run as the
# unprivileged system user $KOL_STACK_USER (default kol, created by deploy/install.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/versions.sh
source "$ROOT/deploy/versions.sh"
# shellcheck source=deploy/tls.sh
source "$ROOT/deploy/tls.sh"

STACK="$KOL_STACK_DIR"
PGBIN="/usr/lib/postgresql/$PG_MAJOR/bin"
PGDATA="$STACK/pg"
MQDIR="$STACK/mosquitto"
RDDIR="$STACK/redis"
TLSDIR="$STACK/tls"
SECRETS="$STACK/secrets.env"
ENV_FILE="$STACK/kol.env"
OWNER_ENV_FILE="$STACK/owner.env"
MOSQUITTO="$MOSQUITTO_PREFIX/sbin/mosquitto"
# Its own clients: Debian 12's mosquitto_ctrl ignores TLS options given in an options file.
export MOSQUITTO_CTRL="$MOSQUITTO_PREFIX/bin/mosquitto_ctrl"
DYNSEC_PLUGIN="$MOSQUITTO_PREFIX/lib/mosquitto_dynamic_security.so"
MQTT_ADMIN_USER="kol-broker-admin"
MQTT_GATEWAY_USER="kol-gateway"
SECRET_NAMES="KOL_PG_SUPERUSER_PASSWORD KOL_PG_OWNER_PASSWORD KOL_PG_PASSWORD
KOL_MQTT_ADMIN_PASSWORD KOL_MQTT_GATEWAY_PASSWORD KOL_REDIS_PASSWORD KOL_JWT_SECRET"

log() { printf '[stack] %s\n' "$*"; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }
if is_root; then STACK_USER="${KOL_STACK_USER:-kol}"; else STACK_USER="$(id -un)"; fi
# PostgreSQL will not run as root, and nothing of the stack needs root: root runs it all as the
# stack's user.
as_stack() { if is_root; then runuser -u "$STACK_USER" -- "$@"; else "$@"; fi; }

# A directory the stack trusts: ours, not a symlink, nobody else may enter it. Whoever creates a
# predictable path under /var/tmp first would otherwise choose our secrets and settings.
check_private_dir() {
    local dir=$1 owner mode
    [ -L "$dir" ] && die "$dir is a symbolic link; the state directory must be a real directory"
    [ -d "$dir" ] || die "$dir is not a directory"
    owner=$(stat -c %U "$dir"); mode=$(stat -c %a "$dir")
    [ "$owner" = "$STACK_USER" ] || die "$dir belongs to $owner, not $STACK_USER: someone else may have made it. If it is the state of an older version of this script, stop what runs from it (pg_ctl -D $dir/pg stop as its owner; mosquitto and redis by their pid files) and remove it; or choose another KOL_STACK_DIR."
    [ "$mode" = 700 ] || die "$dir has mode $mode; it must be 700 (only $STACK_USER may enter it). Fix it with: chmod 700 $dir"
}

# A file whose contents the stack trusts (secrets, settings): owned by the given user (the caller
# by default), not readable or writable by anybody else.
check_private_file() {
    local file=$1 want=${2:-$(id -un)} owner mode
    [ -L "$file" ] && die "$file is a symbolic link; refusing to trust it"
    owner=$(stat -c %U "$file"); mode=$(stat -c %a "$file")
    [ "$owner" = "$want" ] || die "$file belongs to $owner, not $want; refusing to trust it"
    [ $((8#$mode & 8#077)) -eq 0 ] || die "$file has mode $mode; it must not be readable by others. Fix it with: chmod 600 $file"
}

ensure_dirs() {
    if [ ! -e "$STACK" ] && [ ! -L "$STACK" ]; then
        (umask 077 && mkdir "$STACK")
        is_root && chown "$STACK_USER:" "$STACK"
    fi
    check_private_dir "$STACK"
    as_stack sh -c "umask 077 && mkdir -p '$MQDIR/data' '$RDDIR' '$STACK/run' '$TLSDIR'"
}

# Only a stack directory known to be private is read: the other commands must not trust a planted
# one either.
require_dirs() { [ -d "$STACK" ] && check_private_dir "$STACK"; }

secret() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }

# Reads KEY=VALUE lines of known names, never `source`s the file: a settings file is data, and a
# file that was tampered with must not run commands as whoever starts the stack.
read_secrets() {
    local key value
    while IFS='=' read -r key value; do
        case " $(echo $SECRET_NAMES) " in
            *" $key "*) [[ "$value" =~ ^[A-Za-z0-9]+$ ]] || die "$SECRETS: bad value for $key"
                        printf -v "$key" '%s' "$value"; export "${key?}" ;;
            *) [ -z "$key" ] || die "$SECRETS: unknown line $key" ;;
        esac
    done < "$SECRETS"
}

ensure_secrets() {
    local name added=0
    if [ ! -f "$SECRETS" ]; then (umask 077 && : > "$SECRETS"); fi
    check_private_file "$SECRETS"
    read_secrets
    # A secret added by a newer version of this script is generated on the next start.
    for name in $SECRET_NAMES; do
        if [ -z "${!name:-}" ]; then
            if [ "$name" = KOL_JWT_SECRET ]; then value="$(secret)$(secret)"; else value="$(secret)"; fi
            printf '%s=%s\n' "$name" "$value" >> "$SECRETS"; added=1
        fi
    done
    [ "$added" -eq 0 ] || read_secrets
}

# TLS for the broker (MQTT and websockets) and the API. An operator's own certificate and key
# (KOL_TLS_CERT_FILE, KOL_TLS_KEY_FILE; KOL_TLS_CA_FILE when clients need a private CA to trust
# them) are copied in; otherwise a local CA signs a certificate for this host.
ensure_tls() {
    local cert="$TLSDIR/server.crt" key="$TLSDIR/server.key"
    # (Paths to this stack's own files, as kol.env has them, are not an operator's.)
    if { [ -n "${KOL_TLS_CERT_FILE:-}" ] && ! [ "$KOL_TLS_CERT_FILE" -ef "$cert" ]; } \
        || { [ -n "${KOL_TLS_KEY_FILE:-}" ] && ! [ "$KOL_TLS_KEY_FILE" -ef "$key" ]; }; then
        [ -r "${KOL_TLS_CERT_FILE:-}" ] && [ -r "${KOL_TLS_KEY_FILE:-}" ] \
            || die "set both KOL_TLS_CERT_FILE and KOL_TLS_KEY_FILE to readable files"
        install -m 600 "$KOL_TLS_CERT_FILE" "$cert"
        install -m 600 "$KOL_TLS_KEY_FILE" "$key"
        TLS_CA="${KOL_TLS_CA_FILE:-}"
    else
        TLS_CA="$TLSDIR/ca.crt"
        [ ! -f "$TLSDIR/ca.key" ] || check_private_file "$TLSDIR/ca.key"
        local_ca "$TLSDIR" | sed 's/^\[tls\]/[stack] tls:/'
    fi
    # The broker runs as the stack's user and reads its certificate and key itself.
    is_root && chown "$STACK_USER:" "$cert" "$key"
    chmod 600 "$cert" "$key"
    TLS_CERT="$cert"; TLS_KEY="$key"
}

write_file_private() {  # path: stdin into a new 0600 file owned by the caller
    local tmp
    tmp=$(umask 077 && mktemp "$1.XXXXXX")
    cat > "$tmp"
    mv -f "$tmp" "$1"
}

write_env() {
    local redis_url="redis://:$KOL_REDIS_PASSWORD@127.0.0.1:$KOL_REDIS_PORT/0"
    write_file_private "$ENV_FILE" <<EOF
# Written by deploy/stack.sh; the services read it through core.settings (KOL_ENV_FILE).
KOL_DATABASE_URL=postgresql://kol:$KOL_PG_PASSWORD@127.0.0.1:$KOL_PG_PORT/kol
KOL_MQTT_HOST=localhost
KOL_MQTT_PORT=$KOL_MQTT_PORT
KOL_MQTT_WS_PORT=$KOL_MQTT_WS_PORT
KOL_MQTT_GATEWAY_USERNAME=$MQTT_GATEWAY_USER
KOL_MQTT_GATEWAY_PASSWORD=$KOL_MQTT_GATEWAY_PASSWORD
KOL_MQTT_ADMIN_USERNAME=$MQTT_ADMIN_USER
KOL_MQTT_ADMIN_PASSWORD=$KOL_MQTT_ADMIN_PASSWORD
KOL_REDIS_URL=$redis_url
KOL_JWT_SECRET=$KOL_JWT_SECRET
KOL_API_PORT=$KOL_API_PORT
KOL_TLS_CERT_FILE=$TLS_CERT
KOL_TLS_KEY_FILE=$TLS_KEY
KOL_TLS_CA_FILE=$TLS_CA
KOL_STACK_DIR=$STACK
EOF
    # Only migrations need the owner's password; the services never read this file.
    write_file_private "$OWNER_ENV_FILE" <<EOF
# Written by deploy/stack.sh; read by kol-admin migrate (KOL_OWNER_ENV_FILE).
KOL_DATABASE_OWNER_URL=postgresql://kol_owner:$KOL_PG_OWNER_PASSWORD@127.0.0.1:$KOL_PG_PORT/kol
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

pg_running() { [ -f "$PGDATA/PG_VERSION" ] && as_stack "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }
# Superuser statements, over TCP with the password in the environment (never on a command line).
pg_super() { PGPASSWORD="$KOL_PG_SUPERUSER_PASSWORD" psql -X -q -h 127.0.0.1 -p "$KOL_PG_PORT" \
    -U kol_superuser -d postgres "$@"; }

pg_up() {
    [ -x "$PGBIN/initdb" ] || die "PostgreSQL $PG_MAJOR is not installed; run deploy/install.sh"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        log "postgres: initialising $PGDATA"
        as_stack sh -c "umask 077 && mkdir -p '$PGDATA'"
        local pwfile="$STACK/run/pwfile"
        printf '%s\n' "$KOL_PG_SUPERUSER_PASSWORD" | as_stack sh -c "umask 077 && cat > '$pwfile'"
        # Every connection authenticates with a password: no trust, not even on the socket.
        as_stack "$PGBIN/initdb" -D "$PGDATA" -U kol_superuser --pwfile="$pwfile" -E UTF8 \
            --locale=C.UTF-8 --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
            >"$STACK/initdb.log"
        rm -f "$pwfile"
        echo "include 'kol.conf'" | as_stack tee -a "$PGDATA/postgresql.conf" >/dev/null
    fi
    grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$PGDATA/pg_hba.conf" \
        && die "$PGDATA/pg_hba.conf allows trust authentication; this stack was made by an older version: remove $STACK"
    # Rewritten on every start so that a change here takes effect on the next restart.
    as_stack tee "$PGDATA/kol.conf" >/dev/null <<EOF
listen_addresses = '127.0.0.1'
port = $KOL_PG_PORT
# The socket lives in the private state directory and is the owner's alone.
unix_socket_directories = '$STACK/run'
unix_socket_permissions = 0700
password_encryption = scram-sha-256
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
        as_stack "$PGBIN/pg_ctl" -D "$PGDATA" -l "$STACK/run/postgres.log" -w -t 60 start >/dev/null \
            || { tail -n 20 "$STACK/run/postgres.log" >&2; die "postgres did not start"; }
        log "postgres: started on 127.0.0.1:$KOL_PG_PORT"
    fi
    pg_super -f "$ROOT/deploy/postgres/roles.sql" >/dev/null
}

pg_down() {
    if pg_running; then
        as_stack "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
        log "postgres: stopped"
    fi
}

mqtt_pid() { [ -f "$MQDIR/mosquitto.pid" ] && cat "$MQDIR/mosquitto.pid"; }
mqtt_running() { local pid; pid=$(mqtt_pid 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; }

# mosquitto_ctrl's connection options, from a private file: -P on its command line would show
# the admin password to every local user.
ctrl_options() {
    write_file_private "$STACK/run/ctrl.options" <<EOF
-h localhost
-p $KOL_MQTT_PORT
-u $MQTT_ADMIN_USER
-P $KOL_MQTT_ADMIN_PASSWORD
EOF
    [ -z "$TLS_CA" ] || echo "--cafile $TLS_CA" >> "$STACK/run/ctrl.options"
}

mqtt_up() {
    [ -x "$MOSQUITTO" ] || die "mosquitto $MOSQUITTO_UPSTREAM is not installed; run deploy/install.sh"
    if [ ! -f "$MQDIR/dynamic-security.json" ]; then
        # Without a password argument mosquitto_ctrl asks for it (twice) on its input.
        printf '%s\n%s\n' "$KOL_MQTT_ADMIN_PASSWORD" "$KOL_MQTT_ADMIN_PASSWORD" \
            | as_stack sh -c "umask 077 && $MOSQUITTO_CTRL dynsec init '$MQDIR/dynamic-security.json' '$MQTT_ADMIN_USER'" >/dev/null
    fi
    as_stack sh -c "umask 077 && sh '$ROOT/deploy/mosquitto/write-config.sh' '$MQDIR/mosquitto.conf' 127.0.0.1 \
        '$KOL_MQTT_PORT' '$KOL_MQTT_WS_PORT' '$DYNSEC_PLUGIN' '$MQDIR' '$TLS_CERT' '$TLS_KEY'"
    if mqtt_running; then
        log "mosquitto: running on 127.0.0.1:$KOL_MQTT_PORT (TLS), websockets $KOL_MQTT_WS_PORT (TLS)"
    else
        rm -f "$MQDIR/mosquitto.pid"
        # One descriptor per tablet: runuser's PAM session starts the broker at the soft limit
        # of 1024 open files, and a fleet beyond that has its TLS handshakes cut off.
        as_stack sh -c 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"' \
            "$MOSQUITTO" -c "$MQDIR/mosquitto.conf" -d
        wait_port "$KOL_MQTT_PORT" mosquitto
        log "mosquitto: started on 127.0.0.1:$KOL_MQTT_PORT (TLS), websockets $KOL_MQTT_WS_PORT (TLS)"
    fi
    ctrl_options
    sh "$ROOT/deploy/mosquitto/accounts.sh" "$STACK/run/ctrl.options" "$MQTT_GATEWAY_USER" \
        <<< "$KOL_MQTT_GATEWAY_PASSWORD"
}

mqtt_down() {
    if mqtt_running; then
        local pid; pid=$(mqtt_pid)
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        log "mosquitto: stopped"
    fi
}

# The password goes to redis-cli through its environment (REDISCLI_AUTH), to the server through
# its private configuration file.
redis_cli() { REDISCLI_AUTH="${KOL_REDIS_PASSWORD:-}" redis-cli --no-auth-warning -h 127.0.0.1 \
    -p "$KOL_REDIS_PORT" "$@"; }
redis_running() { redis_cli ping 2>/dev/null | grep -q PONG; }

redis_up() {
    as_stack sh -c "umask 077 && cat > '$RDDIR/redis.conf'" <<EOF
port $KOL_REDIS_PORT
bind 127.0.0.1
protected-mode yes
requirepass $KOL_REDIS_PASSWORD
dir $RDDIR
daemonize yes
pidfile $RDDIR/redis.pid
logfile $RDDIR/redis.log
appendonly yes
save ""
EOF
    if redis_running; then
        log "redis: running on 127.0.0.1:$KOL_REDIS_PORT"
    else
        as_stack redis-server "$RDDIR/redis.conf"
        wait_port "$KOL_REDIS_PORT" redis
        log "redis: started on 127.0.0.1:$KOL_REDIS_PORT"
    fi
}

redis_down() {
    # By its pid file, as the broker: the port in the environment may name another stack's Redis
    # (or none, when only KOL_STACK_DIR is given). SIGTERM: it writes its append-only file, exits.
    local pid; pid=$(cat "$RDDIR/redis.pid" 2>/dev/null) || return 0
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        log "redis: stopped"
    fi
}

services() { if [ $# -eq 0 ]; then echo pg mqtt redis; else echo "$@"; fi; }

cmd="${1:-status}"; shift || true
case "$cmd" in
    up)
        if is_root && ! id -u "$STACK_USER" >/dev/null 2>&1; then
            die "the system user $STACK_USER does not exist; run deploy/install.sh"
        fi
        # The services run as the stack's user and read their scripts and templates from this
        # checkout: below a directory only root may enter (mktemp -d makes them 0700) they would
        # fail later, each with its own "Permission denied".
        if is_root && ! as_stack test -r "$ROOT/deploy/stack.sh"; then
            die "the stack's user $STACK_USER cannot read this checkout ($ROOT): every directory above it must be enterable by others (chmod o+x, or a+rx for the checkout itself), or use a checkout outside it"
        fi
        ensure_dirs; ensure_secrets; ensure_tls; write_env
        for s in $(services "$@"); do "${s}_up"; done
        log "settings: $ENV_FILE"
        ;;
    down)
        # Nothing is stopped from a directory that is not private: its pid files would choose
        # which process gets the signal.
        if [ -e "$STACK" ]; then
            require_dirs
            [ -f "$SECRETS" ] && check_private_file "$SECRETS" && read_secrets
            for s in $(services "$@"); do "${s}_down"; done
        fi
        ;;
    status)
        if require_dirs; then
            [ -f "$SECRETS" ] && check_private_file "$SECRETS" && read_secrets
        fi
        pg_running && echo "postgres  up    127.0.0.1:$KOL_PG_PORT" || echo "postgres  down"
        mqtt_running && echo "mosquitto up    127.0.0.1:$KOL_MQTT_PORT (TLS), $KOL_MQTT_WS_PORT (websockets, TLS)" \
            || echo "mosquitto down"
        redis_running && echo "redis     up    127.0.0.1:$KOL_REDIS_PORT" || echo "redis     down"
        echo "state     $STACK"
        ;;
    env) echo "$ENV_FILE" ;;
    *) die "usage: stack.sh up|down|status|env [pg|mqtt|redis ...]" ;;
esac
