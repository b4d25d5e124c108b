#!/bin/sh
# Entry point of the eclipse-mosquitto container in deploy/compose.yaml: the same configuration and
# gateway account as deploy/stack.sh, with state in the /mosquitto/state volume.
set -eu
state=/mosquitto/state
mkdir -p "$state/data"
if [ ! -f "$state/dynamic-security.json" ]; then
    mosquitto_ctrl dynsec init "$state/dynamic-security.json" kol-broker-admin \
        "$KOL_MQTT_ADMIN_PASSWORD" >/dev/null
fi
sh /kol/write-config.sh /tmp/mosquitto.conf 0.0.0.0 1883 /usr/lib/mosquitto_dynamic_security.so \
    "$state"
chown -R mosquitto:mosquitto "$state"
mosquitto -c /tmp/mosquitto.conf &
broker=$!
for _ in $(seq 1 100); do
    mosquitto_ctrl -h 127.0.0.1 -p 1883 -u kol-broker-admin -P "$KOL_MQTT_ADMIN_PASSWORD" \
        dynsec listClients >/dev/null 2>&1 && break
    sleep 0.2
done
sh /kol/accounts.sh 127.0.0.1 1883 kol-broker-admin "$KOL_MQTT_ADMIN_PASSWORD" kol-gateway \
    "$KOL_MQTT_GATEWAY_PASSWORD"
wait "$broker"
