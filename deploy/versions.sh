# Versions and ports of the project's own stack; sourced by the deploy scripts and mirrored in
# deploy/compose.yaml. Override any of them in the environment.
PG_MAJOR="${PG_MAJOR:-15}"
# TimescaleDB from Debian's source package (trixie), built against Debian 12's PostgreSQL 15.
TIMESCALEDB_DEBIAN="${TIMESCALEDB_DEBIAN:-2.19.3+dfsg-1+deb13u1}"
TIMESCALEDB_UPSTREAM="${TIMESCALEDB_DEBIAN%%+*}"
TIMESCALEDB_SUITE="${TIMESCALEDB_SUITE:-trixie}"
# Mosquitto with websockets, from Debian trixie's source package (deploy/install.sh).
MOSQUITTO_DEBIAN="${MOSQUITTO_DEBIAN:-2.0.21-1}"
MOSQUITTO_UPSTREAM="${MOSQUITTO_DEBIAN%%-*}"
MOSQUITTO_SUITE="${MOSQUITTO_SUITE:-trixie}"
MOSQUITTO_PREFIX="${MOSQUITTO_PREFIX:-/opt/kol/mosquitto-$MOSQUITTO_UPSTREAM}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# Own ports, away from the standard ones that other software on the host may be using.
KOL_PG_PORT="${KOL_PG_PORT:-54329}"
KOL_MQTT_PORT="${KOL_MQTT_PORT:-18830}"
KOL_MQTT_WS_PORT="${KOL_MQTT_WS_PORT:-18831}"
KOL_REDIS_PORT="${KOL_REDIS_PORT:-16379}"
KOL_API_PORT="${KOL_API_PORT:-8765}"
# State outside the checkout: PostgreSQL refuses to run as root, and its own user must be able to
# reach the data directory even when the checkout sits in a private folder.
KOL_STACK_DIR="${KOL_STACK_DIR:-/var/tmp/kol-stack}"
