"""The multi-host layout an operator deploys (deploy/ha/layout.toml, deploy/ha/systemd/, the
templates of deploy/ha/) is the one ``make ha-test`` runs, and it has no single point of
failure. Fast, no root: it reads the files, it starts nothing."""

from __future__ import annotations

import re
from pathlib import Path

from tests.ha import topology
from tests.stack import ROOT

HA = ROOT / "deploy" / "ha"
DEBIAN_UNITS = {"etcd", "patroni", "redis-server", "redis-sentinel", "haproxy", "keepalived"}
"""Services whose unit Debian's package brings; the platform's own are in deploy/ha/systemd/."""


def test_every_service_of_the_layout_has_a_unit() -> None:
    ours = {p.stem.removesuffix("@") for p in (HA / "systemd").glob("*.service")}
    for host, services in topology.SERVICES.items():
        for service in services:
            name = service.partition("@")[0]
            assert name in ours | DEBIAN_UNITS, f"{host}: {service} has no unit"
    used = {s.partition("@")[0] for services in topology.SERVICES.values() for s in services}
    assert ours <= used, f"units in deploy/ha/systemd/ that no host runs: {ours - used}"


def test_the_test_runs_the_units_commands() -> None:
    """What topology.py starts for a platform unit is the unit's ExecStart, its settings file
    where the unit says, under the host's /etc/kol."""
    for host, services in topology.SERVICES.items():
        for unit in (s for s in services if s.startswith("kol-")):
            cmd, env_file = topology.unit_command(unit, host)
            assert Path(cmd[0]).parent == topology.VENV_BIN, (unit, cmd)
            assert Path(cmd[0]).exists(), f"{cmd[0]} is not installed"
            assert env_file is not None
            assert env_file.parent == topology.STATE / host / "etc"
        if "mosquitto" in services:
            cmd, _ = topology.unit_command("mosquitto", host)
            assert cmd[0] == str(topology.MOSQUITTO_PREFIX / "sbin" / "mosquitto")
    gateway, _ = topology.unit_command("kol-gateway@h2", "h1")
    assert gateway[gateway.index("--client-id") + 1] == "gateway-h1-h2"
    assert gateway[gateway.index("--shared-group") + 1] == "kol"


def test_no_tier_has_a_single_node() -> None:
    t = topology
    assert len(t.ETCD_HOSTS) >= 3, "etcd needs a quorum of three"
    assert len(t.ETCD_HOSTS) % 2 == 1, "an even etcd member adds no tolerance"
    assert len(t.SENTINEL_HOSTS) >= 3, "Sentinel needs a majority of three"
    for tier in (t.DB_HOSTS, t.BROKER_HOSTS, t.API_HOSTS, t.BEAT_HOSTS, t.LB_HOSTS,
                 t.REDIS_HOSTS):
        assert len(tier) >= 2, tier
    for broker in t.BROKER_HOSTS:
        consumers = {host for host, b in t.GATEWAYS if b == broker}
        assert len(consumers) >= 2, f"broker {broker} has gateways on {consumers} only"
    # Losing any one host leaves a majority of etcd and of the sentinels.
    for host in t.SERVICES:
        assert len([h for h in t.ETCD_HOSTS if h != host]) > len(t.ETCD_HOSTS) // 2
        assert len([h for h in t.SENTINEL_HOSTS if h != host]) >= 2


def test_every_template_field_is_filled_by_the_test() -> None:
    """Each $field of a template appears among the values topology.py renders it with (a
    rename in one place only fails here, before the slow test)."""
    source = (ROOT / "tests" / "ha" / "topology.py").read_text()
    for template in ("haproxy.cfg", "patroni.yml", "kol.env", "etcd.env", "redis.conf",
                     "sentinel.conf", "keepalived.conf", "wal-archive.env"):
        text = (HA / template).read_text().replace("$$", "")
        fields = set(re.findall(r"\$\{(\w+)\}", text))
        assert fields, template
        for field in fields:
            assert f'"{field}"' in source, f"{template}: ${{{field}}} is never given a value"


def test_the_operations_page_lists_the_layout() -> None:
    """docs/operations.md's host table names each host's services as the layout does."""
    page = (ROOT / "docs" / "operations.md").read_text()
    for host, services in topology.SERVICES.items():
        row = next((line for line in page.splitlines() if line.startswith(f"| {host} |")), None)
        assert row is not None, f"docs/operations.md has no row for {host}"
        for service in services:
            assert f"`{service}`" in row, f"docs/operations.md: {host} lacks {service}"
