#!/bin/sh
# Creates the broker accounts the platform itself uses (the gateway), once; shared by
# deploy/stack.sh and the compose broker container. Device accounts are made by the platform's
# provisioning (core/broker_admin.py).
#   accounts.sh HOST PORT ADMIN_USER ADMIN_PASSWORD GATEWAY_USER GATEWAY_PASSWORD
set -eu
host=$1 port=$2 admin=$3 admin_pw=$4 gateway=$5 gateway_pw=$6
ctrl() { mosquitto_ctrl -h "$host" -p "$port" -u "$admin" -P "$admin_pw" dynsec "$@" 2>/dev/null; }
# mosquitto_ctrl exits 0 even on "not found", so look the client up in the listing.
if ctrl listClients | grep -qx "$gateway"; then exit 0; fi
ctrl createRole kol-gateway >/dev/null
# Plain and shared subscriptions to every device's readings and status.
ctrl addRoleACL kol-gateway subscribePattern 'kol/v1/d/#' allow 5 >/dev/null
ctrl addRoleACL kol-gateway subscribePattern '$share/#' allow 5 >/dev/null
ctrl addRoleACL kol-gateway publishClientSend 'kol/v1/d/+/receipts' allow 5 >/dev/null
ctrl createClient "$gateway" -p "$gateway_pw" >/dev/null
ctrl addClientRole "$gateway" kol-gateway 5 >/dev/null
echo "gateway account $gateway created"
