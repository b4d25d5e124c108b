#!/usr/bin/env bash
# The platform in the foreground: API + dashboard, gateway, Celery worker and beat, and a simulated
# fleet of home tablets. Expects `make run` to have installed, started the stack and migrated.
# Ctrl-C stops every service.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/versions.sh
source "$ROOT/deploy/versions.sh"
BIN="$ROOT/.venv/bin"
export KOL_ENV_FILE="${KOL_ENV_FILE:-$KOL_STACK_DIR/kol.env}"
[ -f "$KOL_ENV_FILE" ] || { echo "run.sh: no $KOL_ENV_FILE; run deploy/stack.sh up" >&2; exit 1; }
SIM_PATIENTS="${KOL_SIM_PATIENTS:-40}"
# Simulated seconds per real second: 3600 shows an hour of the fleet's life every second.
SIM_SPEED="${KOL_SIM_SPEED:-3600}"

# Demo accounts, created once with generated passwords kept beside the stack's secrets.
CREDS="$KOL_STACK_DIR/demo-logins.env"
if [ ! -f "$CREDS" ]; then
    umask 077
    printf 'DEMO_ADMIN_PASSWORD=%s\nDEMO_NURSE_PASSWORD=%s\nDEMO_CLINICIAN_PASSWORD=%s\n' \
        "$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)" \
        "$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)" \
        "$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)" > "$CREDS"
fi
# shellcheck disable=SC1090
source "$CREDS"
ensure_user() {  # username role password
    printf '%s\n' "$3" | "$BIN/kol-admin" create-user --username "$1" --role "$2" \
        --team "Demo hjemmepleje" --password-stdin >/dev/null 2>&1 || true
}
ensure_user demo-admin admin "$DEMO_ADMIN_PASSWORD"
ensure_user demo-nurse nurse "$DEMO_NURSE_PASSWORD"
ensure_user demo-clinician clinician "$DEMO_CLINICIAN_PASSWORD"

# Background jobs of a script ignore SIGINT, so Ctrl-C reaches the services through this trap:
# each gets SIGTERM (a graceful stop) and the script waits until all have exited.
SERVICES=()
stop_all() {
    trap '' INT TERM
    echo "[run] stopping"
    kill -TERM "${SERVICES[@]}" 2>/dev/null || true
    wait
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

start() {  # name command...
    local name=$1; shift
    "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    SERVICES+=("$!")
}

start api "$BIN/kol-api"
start gateway "$BIN/kol-gateway"
start worker "$BIN/kol-worker"
start beat "$BIN/kol-beat"

URL="https://localhost:$KOL_API_PORT"
# The stack's local CA (empty with an operator's publicly signed certificate).
CA_FILE=$(sed -n 's/^KOL_TLS_CA_FILE=//p' "$KOL_ENV_FILE")
CURL=(curl -fsS ${CA_FILE:+--cacert "$CA_FILE"})
for _ in $(seq 1 100); do
    "${CURL[@]}" "$URL/readyz" >/dev/null 2>&1 && break
    sleep 0.3
done
"${CURL[@]}" "$URL/readyz" >/dev/null || { echo "[run] the API did not become ready" >&2; exit 1; }

export DEMO_ADMIN_PASSWORD
start sim "$BIN/kol-sim" fleet --api-url "$URL" --username demo-admin \
    --password-env DEMO_ADMIN_PASSWORD --team "Demo hjemmepleje" \
    --patients "$SIM_PATIENTS" --speed "$SIM_SPEED"

if [ -n "$CA_FILE" ]; then
    CA_NOTE="the certificate is signed by the stack's own CA, $CA_FILE: import it into the browser, or set KOL_TLS_CERT_FILE and KOL_TLS_KEY_FILE to your own"
else
    CA_NOTE="the operator's own certificate"
fi
cat <<BANNER

  KOL telemonitoring is running.
  Dashboard:  $URL/
  Login:      demo-nurse / $DEMO_NURSE_PASSWORD
              (clinician: demo-clinician / $DEMO_CLINICIAN_PASSWORD, admin: demo-admin / $DEMO_ADMIN_PASSWORD)
  API docs:   $URL/docs      Readiness: $URL/readyz      Ctrl-C stops everything.
  TLS:        $CA_NOTE

BANNER
wait
