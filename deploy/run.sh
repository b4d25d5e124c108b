#!/usr/bin/env bash
# The platform in the foreground: API + dashboard, gateway, Celery worker and beat, and a simulated
# fleet of home tablets. Expects `make run` to have installed, started the stack and migrated.
# Ctrl-C stops every service. `deploy/run.sh pair-code` prints a tablet pairing code for the demo.
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
# The outcomes page's read-only manager (issue #19), added to an older file too.
if [ -z "${DEMO_MANAGER_PASSWORD:-}" ]; then
    DEMO_MANAGER_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)
    printf 'DEMO_MANAGER_PASSWORD=%s\n' "$DEMO_MANAGER_PASSWORD" >> "$CREDS"
fi
export DEMO_ADMIN_PASSWORD

# `deploy/run.sh pair-code` (or `make pair-code`), beside a running platform: a new code.
if [ "${1:-}" = pair-code ]; then
    exec "$BIN/kol-sim" pair-code --api-url "https://localhost:$KOL_API_PORT" \
        --username demo-admin --password-env DEMO_ADMIN_PASSWORD --team "Demo hjemmepleje"
fi
ensure_user() {  # username role password
    printf '%s\n' "$3" | "$BIN/kol-admin" create-user --username "$1" --role "$2" \
        --team "Demo hjemmepleje" --password-stdin >/dev/null 2>&1 || true
}
ensure_user demo-admin admin "$DEMO_ADMIN_PASSWORD"
ensure_user demo-nurse nurse "$DEMO_NURSE_PASSWORD"
ensure_user demo-clinician clinician "$DEMO_CLINICIAN_PASSWORD"
ensure_user demo-manager manager "$DEMO_MANAGER_PASSWORD"

# Months of simulated care history in two more teams, so that the outcomes page has something
# to show from the first run (written once; docs/outcomes.md).
"$BIN/kol-sim" history --team "Demo Nord" --team "Demo Syd" --patients-per-team 25 \
    --months 18 || echo "[run] the outcomes history was not written" >&2

# Background jobs of a script ignore SIGINT, so Ctrl-C reaches the services through this trap:
# each gets SIGTERM (a graceful stop). One still running after KOL_RUN_STOP_SECONDS is named and
# killed, so that Ctrl-C always stops everything.
STOP_SECONDS="${KOL_RUN_STOP_SECONDS:-30}"
SERVICES=()
SERVICE_NAMES=()
stop_all() {
    trap '' INT TERM
    # Once: Ctrl-C's trap stops everything and its `exit` runs the EXIT trap too.
    [ -z "${STOPPING:-}" ] || return 0
    STOPPING=1
    echo "[run] stopping"
    kill -TERM "${SERVICES[@]}" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_SECONDS)) i running
    while :; do
        running=()
        for i in "${!SERVICES[@]}"; do
            kill -0 "${SERVICES[$i]}" 2>/dev/null && running+=("$i")
        done
        [ ${#running[@]} -eq 0 ] && break
        if [ "$SECONDS" -ge "$deadline" ]; then
            for i in "${running[@]}"; do
                echo "[run] ${SERVICE_NAMES[$i]} did not stop in ${STOP_SECONDS} s: killed" >&2
                kill -KILL "${SERVICES[$i]}" 2>/dev/null || true
            done
            break
        fi
        sleep 0.2
    done
    wait
}
trap 'stop_all; exit 130' INT TERM
trap stop_all EXIT

start() {  # name command...
    local name=$1; shift
    "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
    SERVICES+=("$!")
    SERVICE_NAMES+=("$name")
}

# Local stand-ins for an SMTP server and an SMS gateway: the demo's notifications are printed
# as they arrive ([notify] lines). A real deployment sets KOL_SMTP_* and KOL_SMS_GATEWAY_* in
# the settings file instead (docs/notifications.md).
# Ports next to the API's, so that two stacks on one machine do not share them.
DEMO_SMTP_PORT="${KOL_DEMO_SMTP_PORT:-$((KOL_API_PORT + 1025))}"
DEMO_SMS_PORT="${KOL_DEMO_SMS_PORT:-$((KOL_API_PORT + 1026))}"
export KOL_SMTP_HOST="${KOL_SMTP_HOST:-127.0.0.1}" KOL_SMTP_PORT="${KOL_SMTP_PORT:-$DEMO_SMTP_PORT}"
export KOL_SMS_GATEWAY_URL="${KOL_SMS_GATEWAY_URL:-http://127.0.0.1:$DEMO_SMS_PORT/sms}"
export KOL_PUBLIC_URL="${KOL_PUBLIC_URL:-https://localhost:$KOL_API_PORT}"
start notify "$BIN/python" -m simulators.receivers --smtp-port "$DEMO_SMTP_PORT" \
    --sms-port "$DEMO_SMS_PORT"

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

# The demo team's rota: demo-nurse on call around the clock, demo-clinician as the second step,
# with an e-mail address and a phone number each (the team's admin can change it in the
# dashboard: Vagtplan og varsling).
export DEMO_ADMIN_PASSWORD DEMO_NURSE_PASSWORD DEMO_CLINICIAN_PASSWORD
"$BIN/python" - "$URL" "$CA_FILE" <<'PY' || echo "[run] the demo rota was not set up" >&2
import json, os, ssl, sys, urllib.parse, urllib.request
url, ca_file = sys.argv[1], sys.argv[2] or None
tls = ssl.create_default_context(cafile=ca_file)
def call(method, path, token=None, body=None, form=None):
    data = urllib.parse.urlencode(form).encode() if form else (
        json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10, context=tls) as response:
        return json.loads(response.read() or b"null")
def login(user, env):
    return call("POST", "/api/v1/auth/token",
                form={"username": user, "password": os.environ[env]})["access_token"]
ids = {}
for user, env, phone in (("demo-nurse", "DEMO_NURSE_PASSWORD", "+4520000001"),
                         ("demo-clinician", "DEMO_CLINICIAN_PASSWORD", "+4520000002")):
    token = login(user, env)
    ids[user] = call("GET", "/api/v1/me", token)["id"]
    call("PUT", "/api/v1/me/contact", token, {"email": f"{user}@demo.invalid", "phone": phone})
admin = login("demo-admin", "DEMO_ADMIN_PASSWORD")
for team in call("GET", "/api/v1/me/teams/notifications", admin):
    if team["rota"]:
        continue
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"]
    call("PUT", f"/api/v1/teams/{team['team_id']}/notifications/rota", admin, {"slots": [
        {"user_id": ids["demo-nurse"], "role": "primary", "day": d, "starts": "00:00",
         "ends": "00:00"} for d in days]})
    call("PUT", f"/api/v1/teams/{team['team_id']}/notifications/escalation", admin, {"steps": [
        {"target": "primary", "after_minutes": 0},
        {"target": "user", "user_id": ids["demo-clinician"], "after_minutes": 10}]})
PY

start sim "$BIN/kol-sim" fleet --api-url "$URL" --username demo-admin \
    --password-env DEMO_ADMIN_PASSWORD --team "Demo hjemmepleje" \
    --patients "$SIM_PATIENTS" --speed "$SIM_SPEED"

# A browser tab can be the tablet of the demo patient "Inger Sørensen (tablet-demo)".
PAIRING=$("$BIN/kol-sim" pair-code --api-url "$URL" --username demo-admin \
    --password-env DEMO_ADMIN_PASSWORD --team "Demo hjemmepleje" 2>&1 | tail -n 1)

if [ -n "$CA_FILE" ]; then
    CA_NOTE="the certificate is signed by the stack's own CA, $CA_FILE: import it into the browser, or set KOL_TLS_CERT_FILE and KOL_TLS_KEY_FILE to your own"
else
    CA_NOTE="the operator's own certificate"
fi
cat <<BANNER

  KOL telemonitoring is running.
  Dashboard:  $URL/
  Tablet app: $URL/tablet/   (the patient's app; pair this browser tab as her tablet:)
              $PAIRING
              a new code: deploy/run.sh pair-code   (valid 15 minutes, single use)
  Login:      demo-nurse / $DEMO_NURSE_PASSWORD
              (clinician: demo-clinician / $DEMO_CLINICIAN_PASSWORD, admin: demo-admin / $DEMO_ADMIN_PASSWORD)
              (outcomes, figures only: demo-manager / $DEMO_MANAGER_PASSWORD)
  API docs:   $URL/docs      Readiness: $URL/readyz      Ctrl-C stops everything.
  TLS:        $CA_NOTE
  Notifications: red alerts go to demo-nurse by e-mail (SMTP sink on 127.0.0.1:$DEMO_SMTP_PORT)
              and SMS (HTTP sink on 127.0.0.1:$DEMO_SMS_PORT), printed here as [notify] lines.

BANNER
wait
