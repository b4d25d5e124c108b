#!/bin/sh
# Entry point of the eclipse-mosquitto container in deploy/compose.yaml: the same configuration and
# gateway account as deploy/stack.sh, with state in the /mosquitto/state volume.
set -eu
state=/mosquitto/state
mkdir -p "$state/data"
umask 077
if [ ! -f "$state/dynamic-security.json" ]; then
    # Passwords go through standard input and a private options file, never a command line.
    printf '%s\n%s\n' "$KOL_MQTT_ADMIN_PASSWORD" "$KOL_MQTT_ADMIN_PASSWORD" \
        | mosquitto_ctrl dynsec init "$state/dynamic-security.json" kol-broker-admin >/dev/null
fi
# The broker drops to the mosquitto user; it reads its own copy of the key.
cp /tls/server.crt /tls/server.key "$state/"
sh /kol/write-config.sh /tmp/mosquitto.conf 0.0.0.0 8883 8081 \
    /usr/lib/mosquitto_dynamic_security.so "$state" "$state/server.crt" "$state/server.key"
chown -R mosquitto:mosquitto "$state"
mosquitto -c /tmp/mosquitto.conf &
broker=$!
printf -- '-h localhost\n-p 8883\n-u kol-broker-admin\n-P %s\n--cafile /tls/ca.crt\n' \
    "$KOL_MQTT_ADMIN_PASSWORD" > /tmp/ctrl.options
for _ in $(seq 1 100); do
    mosquitto_ctrl -o /tmp/ctrl.options dynsec listClients >/dev/null 2>&1 && break
    sleep 0.2
done
printf '%s\n' "$KOL_MQTT_GATEWAY_PASSWORD" | sh /kol/accounts.sh /tmp/ctrl.options kol-gateway
wait "$broker"
