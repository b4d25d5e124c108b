#!/bin/sh
# Writes the broker configuration, shared by deploy/stack.sh and the compose broker container.
#   write-config.sh OUT_FILE LISTEN_ADDRESS MQTT_PORT WS_PORT PLUGIN_PATH STATE_DIR CERT KEY
# STATE_DIR holds dynamic-security.json, the persistence files, the pid file and the log. Both
# listeners are TLS only: device passwords and readings never cross the network in clear.
set -eu
out=$1 address=$2 port=$3 ws_port=$4 plugin=$5 state=$6 cert=$7 key=$8
cat > "$out" <<CONF
# Written by deploy/mosquitto/write-config.sh.
per_listener_settings false
allow_anonymous false

# MQTT over TLS: tablets, the gateway, the platform's administration.
listener $port $address
certfile $cert
keyfile $key
tls_version tlsv1.2

# MQTT over secure websockets, for browsers.
listener $ws_port $address
protocol websockets
certfile $cert
keyfile $key
tls_version tlsv1.2

plugin $plugin
plugin_opt_config_file $state/dynamic-security.json
persistence true
persistence_location $state/data/
autosave_interval 10
# The gateway acknowledges only after its database commit, so the broker must let many QoS 1
# messages wait for that ack, and queue for sessions that are offline, without dropping any.
max_inflight_messages 10000
max_queued_messages 5000000
max_queued_bytes 0
# Oversized batches must reach the gateway, which dead-letters them as too_large.
max_packet_size 1048576
persistent_client_expiration 30d
pid_file $state/mosquitto.pid
log_dest file $state/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
CONF
