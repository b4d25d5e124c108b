#!/usr/bin/env bash
# A local certificate authority and a server certificate signed by it, for the broker (MQTT and
# secure websockets) and the API: for the demo, the tests and compose. In production set
# KOL_TLS_CERT_FILE and KOL_TLS_KEY_FILE to certificates of your own instead.
#
#   deploy/tls.sh DIR [HOSTNAME ...]   make (or renew, 30 days before expiry) DIR/ca.crt,
#                                      DIR/ca.key, DIR/server.crt and DIR/server.key
#
# The server certificate names localhost, 127.0.0.1, ::1, this host's name and the HOSTNAMEs
# (compose adds its service names; the multi-host layout its addresses). DIR must be private (0700); ca.key is 0600.
set -euo pipefail

local_ca() {
    local dir=$1; shift
    local names="DNS:localhost,DNS:$(hostname),IP:127.0.0.1,IP:::1" name
    for name in "$@"; do
        # An address is named as one (the multi-host layout's hosts are reached by address).
        if [[ "$name" =~ ^[0-9.]+$ ]]; then names="$names,IP:$name"; else names="$names,DNS:$name"; fi
    done
    if [ ! -f "$dir/ca.key" ]; then
        (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 -sha256 \
            -subj "/CN=KOL telemonitoring local CA ($(hostname))" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null)
        chmod 644 "$dir/ca.crt"
        rm -f "$dir/server.crt"
    fi
    if [ ! -f "$dir/server.crt" ] || ! openssl x509 -checkend 2592000 -noout -in "$dir/server.crt" >/dev/null; then
        (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
            -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" 2>/dev/null)
        printf '%s\n' "subjectAltName=$names" "basicConstraints=critical,CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth,clientAuth" > "$dir/server.ext"
        (umask 077 && openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" \
            -CAkey "$dir/ca.key" -CAcreateserial -days 397 -sha256 -extfile "$dir/server.ext" \
            -out "$dir/server.crt" 2>/dev/null)
        rm -f "$dir/server.csr" "$dir/server.ext"
        echo "[tls] server certificate for $names, signed by $dir/ca.crt"
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    [ $# -ge 1 ] || { echo "usage: deploy/tls.sh DIR [HOSTNAME ...]" >&2; exit 2; }
    (umask 077 && mkdir -p "$1")
    [ "$(stat -c %a "$1")" = 700 ] || { echo "tls.sh: $1 must have mode 700" >&2; exit 1; }
    local_ca "$@"
    # compose mounts the files one by one into containers whose users differ from the host's:
    # the key must be readable there; on the host the 0700 directory keeps it private.
    chmod 644 "$1/server.crt" "$1/server.key"
fi
