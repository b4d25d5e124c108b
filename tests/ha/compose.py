"""The per-host compose files of the multi-host layout (deploy/ha/compose/<host>.yaml), made from
what make ha-test runs: the hosts and their services from deploy/ha/layout.toml, the platform's
commands from the units of deploy/ha/systemd/, each configuration file at the path
docs/operations.md names, rendered by the operator from its template. Rewrite them after a
change to any of those with

    python -m tests.ha.compose

(tests/ha/test_layout.py fails while the committed files differ from what this makes).

Every container runs with the host's network (``network_mode: host``): the services listen on
the host's own address and the floating address exactly as under systemd. The platform's
services run from the project's image (deploy/Dockerfile), the rest from deploy/ha/Dockerfile,
which is Debian 12 with deploy/install.sh's packages, installed by install.sh itself.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from tests.ha.topology import LAYOUT, PORTS, SERVICES, unit_settings, unit_source
from tests.stack import ROOT

OUT = ROOT / "deploy" / "ha" / "compose"
TLS_DIR = "/etc/kol/tls"
"""``${tls_dir}`` of the templates on a compose host: the CA, the server certificate and key."""
STATE_DIR = "/var/lib/kol"
"""``${state_dir}`` of a service's template on a compose host is STATE_DIR/<service>."""

PLATFORM_IMAGE = {"image": "kol-telemonitoring:dev",
                  "build": {"context": "../../..", "dockerfile": "deploy/Dockerfile"}}
INFRA_IMAGE = {"image": "kol-ha:dev",
               "build": {"context": "../../..", "dockerfile": "deploy/ha/Dockerfile",
                         "args": {"KOL_UID": "${KOL_UID:?id -u kol, in deploy/ha/compose/.env}",
                                  "KOL_GID": "${KOL_GID:?id -g kol, in deploy/ha/compose/.env}"}}}
PLATFORM_USER = "${KOL_UID:?id -u kol, in deploy/ha/compose/.env}:" \
                "${KOL_GID:?id -g kol, in deploy/ha/compose/.env}"
"""The host's kol: the settings files are 0600 and must belong to the user that reads them."""

CONFIG: dict[str, dict[str, str]] = {
    "etcd": {"/etc/default/etcd": "deploy/ha/etcd.env"},
    "patroni": {"/etc/patroni/config.yml": "deploy/ha/patroni.yml"},
    "mosquitto": {"/etc/kol/mosquitto/mosquitto.conf": "deploy/mosquitto/write-config.sh"},
    "redis-server": {"/etc/redis/redis.conf": "deploy/ha/redis.conf"},
    "redis-sentinel": {"/etc/redis/sentinel.conf": "deploy/ha/sentinel.conf"},
    "haproxy": {"/etc/haproxy/haproxy.cfg": "deploy/ha/haproxy.cfg"},
    "keepalived": {"/etc/keepalived/keepalived.conf": "deploy/ha/keepalived.conf"},
    "wal-archive": {"/etc/kol/wal-archive.env": "deploy/ha/wal-archive.env"},
}
"""Each service's configuration files on the host and the template each is rendered from (the
platform's settings files are added per unit: kol_env_file)."""

WRITES_ITS_CONFIG = {"redis-sentinel"}
"""Sentinel rewrites its file (a new file renamed over it): it gets the directory."""
WRITES_ITS_CONFIG_DIRS = {str(Path(path).parent) for service in WRITES_ITS_CONFIG
                          for path in CONFIG[service]}

LISTENS = {"etcd": "etcd_client", "patroni": "patroni", "mosquitto": "mqtt",
           "redis-server": "redis", "redis-sentinel": "sentinel", "haproxy": "haproxy_health",
           "kol-api": "api"}
"""The port of layout.toml a service answers on at the host's address: its health check."""


def compose_name(service: str) -> str:
    """kol-gateway@h2 → kol-gateway-h2 (compose names have no @)."""
    return service.replace("@", "-")


def kol_env_file(unit_text: str) -> str:
    """The settings file a platform unit names (Environment=KOL_ENV_FILE=...)."""
    return unit_settings(unit_text, "Environment")["Environment"].removeprefix("KOL_ENV_FILE=")


def _command(service: str, host: str) -> tuple[list[str], dict[str, Any]]:
    """The container's command and what else it needs, as the unit (or Debian's) runs it."""
    if service.startswith("kol-"):
        text = unit_source(service, host)
        argv = shlex.split(unit_settings(text, "ExecStart")["ExecStart"])
        settings = kol_env_file(text)
        # The image has the project installed on its PATH instead of /opt/kol/.venv/bin.
        return [Path(argv[0]).name, *argv[1:]], {
            **PLATFORM_IMAGE, "user": PLATFORM_USER,
            "environment": {"KOL_ENV_FILE": settings}}
    if service == "mosquitto":
        unit = unit_settings(unit_source(service, host), "ExecStart", "LimitNOFILE")
        # One descriptor per tablet, as the unit allows: Docker's default soft limit is 1024.
        nofile = int(unit["LimitNOFILE"])
        return shlex.split(unit["ExecStart"]), {
            **INFRA_IMAGE, "user": "kol", "ulimits": {"nofile": {"soft": nofile, "hard": nofile}}}
    if service == "wal-archive":
        unit = unit_settings(unit_source(service, host), "ExecStart", "EnvironmentFile")
        # ${KOL_WAL_SOURCE} comes from the environment file, as under systemd: "$$" keeps
        # compose from filling it in itself.
        return ["sh", "-c", "exec " + unit["ExecStart"].replace("$", "$$")], {
            **INFRA_IMAGE, "user": "kol", "env_file": [unit["EnvironmentFile"]]}
    # Debian's units for the rest: the same programs and files, in the foreground.
    debian: dict[str, tuple[list[str], dict[str, Any]]] = {
        "etcd": (["etcd"], {"env_file": ["/etc/default/etcd"]}),
        "patroni": (["patroni", "/etc/patroni/config.yml"], {}),
        "redis-server": (["redis-server", "/etc/redis/redis.conf"], {}),
        "redis-sentinel": (["redis-server", "/etc/redis/sentinel.conf", "--sentinel"], {}),
        "haproxy": (["haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"], {}),
        # keepalived moves the floating address: root with the network capabilities, as
        # Debian's unit runs it.
        "keepalived": (["keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
                        "--use-file", "/etc/keepalived/keepalived.conf"],
                       {"user": "root", "cap_add": ["NET_ADMIN", "NET_BROADCAST", "NET_RAW"]}),
    }
    command, extra = debian[service]
    return command, {**INFRA_IMAGE, "user": "kol", **extra}


def config_files(service: str, host: str) -> dict[str, str]:
    """A service's configuration files on the host → their templates."""
    if service.startswith("kol-"):
        return {kol_env_file(unit_source(service, host)): "deploy/ha/kol.env"}
    return CONFIG[service]


def compose_service(service: str, host: str) -> dict[str, Any]:
    command, spec = _command(service, host)
    files = config_files(service, host)
    mounts = [f"{TLS_DIR}:{TLS_DIR}:ro"]
    for path in files:
        if path in spec.get("env_file", []):
            continue
        if service in WRITES_ITS_CONFIG or service == "mosquitto":
            # mosquitto's directory holds its configuration only (the state is below).
            parent = str(Path(path).parent)
            mounts.append(f"{parent}:{parent}" + ("" if service in WRITES_ITS_CONFIG else ":ro"))
        else:
            mounts.append(f"{path}:{path}:ro")
    state = f"{STATE_DIR}/{compose_name(service)}"
    mounts.append(f"{state}:{state}")
    address = LAYOUT["hosts"][host]["address"]
    out: dict[str, Any] = {**spec, "command": command, "network_mode": "host",
                           "restart": "unless-stopped", "volumes": mounts,
                           "x-config": dict(files)}
    if service in LISTENS:
        port = PORTS[LISTENS[service]]
        out["healthcheck"] = {"test": ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/{address}/{port}"],
                              "interval": "10s", "timeout": "3s", "retries": 3}
    return out


def host_compose(host: str) -> dict[str, Any]:
    return {"name": f"kol-{host}",
            "services": {compose_name(s): compose_service(s, host) for s in SERVICES[host]}}


HEADER = """\
# The services of host {host} of the multi-host layout (deploy/ha/layout.toml, address {address}),
# for hosts with Docker instead of systemd: docs/operations.md, "Installing it with compose".
# Made by `python -m tests.ha.compose` from the layout and deploy/ha/systemd/; do not edit.
#   docker compose -f deploy/ha/compose/{host}.yaml up -d --build
# Each service's x-config names its configuration files on this host and the template each is
# rendered from; ${{tls_dir}} is {tls}, a service's ${{state_dir}} is {state}/<service>.
"""


class _Dumper(yaml.SafeDumper):
    """Every service spelled out in full: no YAML anchors for the parts they share."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render_host(host: str) -> str:
    body: str = yaml.dump(host_compose(host), Dumper=_Dumper, sort_keys=False, width=100)
    return HEADER.format(host=host, address=LAYOUT["hosts"][host]["address"], tls=TLS_DIR,
                         state=STATE_DIR) + body


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for host in SERVICES:
        (OUT / f"{host}.yaml").write_text(render_host(host))
        print(f"wrote {OUT / f'{host}.yaml'}")


if __name__ == "__main__":
    main()
