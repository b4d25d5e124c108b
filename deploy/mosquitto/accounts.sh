#!/bin/sh
# Creates the broker accounts the platform itself uses (the gateway), once; shared by
# deploy/stack.sh and the compose broker container. Device accounts are made by the platform's
# provisioning (core/broker_admin.py).
#   accounts.sh CTRL_OPTIONS_FILE GATEWAY_USER < gateway-password
# CTRL_OPTIONS_FILE holds mosquitto_ctrl's connection options (host, port, admin user and
# password, CA): no password is ever on a command line, where every local user could read it.
set -eu
options=$1 gateway=$2
IFS= read -r gateway_pw
ctrl() { "${MOSQUITTO_CTRL:-mosquitto_ctrl}" -o "$options" dynsec "$@" 2>/dev/null; }
# mosquitto_ctrl exits 0 even on "not found", so look the client up in the listing.
if ctrl listClients | grep -qx "$gateway"; then exit 0; fi
ctrl createRole kol-gateway >/dev/null
# Plain and shared subscriptions to every device's readings and status.
ctrl addRoleACL kol-gateway subscribePattern 'kol/v1/d/#' allow 5 >/dev/null
ctrl addRoleACL kol-gateway subscribePattern '$share/#' allow 5 >/dev/null
ctrl addRoleACL kol-gateway publishClientSend 'kol/v1/d/+/receipts' allow 5 >/dev/null
# Without -p, mosquitto_ctrl asks for the new password twice on its input.
printf '%s\n%s\n' "$gateway_pw" "$gateway_pw" | ctrl createClient "$gateway" >/dev/null
ctrl addClientRole "$gateway" kol-gateway 5 >/dev/null
echo "gateway account $gateway created"
