"""The multi-host layout an operator deploys (deploy/ha/layout.toml, deploy/ha/systemd/, the
templates of deploy/ha/) is the one ``make ha-test`` runs, and it has no single point of
failure. Fast, no root: it reads the files, it starts nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from tests.ha import compose, topology
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


def _composed() -> dict[str, dict[str, Any]]:
    return {host: yaml.safe_load((compose.OUT / f"{host}.yaml").read_text())
            for host in topology.SERVICES}


def test_the_compose_files_are_the_ones_the_layout_makes() -> None:
    """deploy/ha/compose/ holds one file per host of the layout, as `python -m tests.ha.compose`
    writes it from the layout and the units (so a change there without rewriting fails)."""
    assert {p.stem for p in compose.OUT.glob("*.yaml")} == set(topology.SERVICES)
    for host in topology.SERVICES:
        assert (compose.OUT / f"{host}.yaml").read_text() == compose.render_host(host), (
            f"deploy/ha/compose/{host}.yaml is stale: run python -m tests.ha.compose")


def test_each_host_composes_exactly_its_row_of_the_layout() -> None:
    for host, files in _composed().items():
        services = files["services"]
        assert set(services) == {s.replace("@", "-") for s in topology.SERVICES[host]}, host
        for name, service in services.items():
            assert service["network_mode"] == "host", (host, name)
            assert service["restart"] in ("always", "unless-stopped"), (host, name)
            image = service["build"]["dockerfile"]
            assert (ROOT / image).is_file(), image
            expected = "deploy/Dockerfile" if name.startswith("kol-") else "deploy/ha/Dockerfile"
            assert image == expected, (host, name)


def test_the_composed_commands_are_the_units() -> None:
    """A platform container runs its unit's ExecStart (the image has the project on its PATH
    where the unit names /opt/kol/.venv/bin) with the unit's settings file; the broker and the
    WAL archive run their units' ExecStart as it stands."""
    for host, files in _composed().items():
        for service in topology.SERVICES[host]:
            spec = files["services"][service.replace("@", "-")]
            if service.startswith("kol-") or service in ("mosquitto", "wal-archive"):
                text = topology.unit_source(service, host)
                unit = topology.unit_settings(text, "ExecStart", "Environment",
                                              "EnvironmentFile")
                argv = shlex.split(unit["ExecStart"])
            if service.startswith("kol-"):
                assert argv[0] == f"/opt/kol/.venv/bin/{spec['command'][0]}", (host, service)
                assert spec["command"][1:] == argv[1:], (host, service)
                assert f"KOL_ENV_FILE={spec['environment']['KOL_ENV_FILE']}" == \
                    unit["Environment"]
            elif service == "mosquitto":
                assert spec["command"] == argv
            elif service == "wal-archive":
                assert spec["command"] == ["sh", "-c", "exec " + unit["ExecStart"].replace(
                    "$", "$$")]
                assert spec["env_file"] == [unit["EnvironmentFile"]]
    gateway = _composed()["h1"]["services"]["kol-gateway-h2"]["command"]
    assert gateway[gateway.index("--client-id") + 1] == "gateway-h1-h2"


def test_every_composed_file_comes_from_a_template() -> None:
    """Every file a container reads from the host is a rendered template of deploy/ha/ (or the
    broker's deploy/mosquitto/write-config.sh) at the path docs/operations.md names for the
    service, the TLS directory, or the service's own state directory."""
    page = (ROOT / "docs" / "operations.md").read_text().splitlines()
    for host, files in _composed().items():
        for name, spec in files["services"].items():
            config: dict[str, str] = spec["x-config"]
            assert config, (host, name)
            service = next(s for s in topology.SERVICES[host] if s.replace("@", "-") == name)
            unit, _, broker = service.partition("@")
            # The table's row of the service (the gateways' as kol-gateway@BROKER).
            listed = f"`{unit}@BROKER`" if broker else f"`{service}`"
            row = next(line for line in page
                       if line.startswith("| ") and listed in line.split("|")[1])
            for path, template in config.items():
                assert (ROOT / template).is_file(), template
                assert template.startswith(("deploy/ha/", "deploy/mosquitto/")), template
                assert f"`{template}`" in row, (service, template, row)
                as_listed = path.replace(f"-{broker}.", "-BROKER.") if broker else path
                assert f"`{as_listed}`" in row, (service, path, row)
            readable = {*config, *(str(Path(p).parent) for p in config)}
            state = f"{compose.STATE_DIR}/{name}"
            for volume in spec["volumes"]:
                source, target, *mode = volume.split(":")
                assert source == target, volume
                assert source in readable | {compose.TLS_DIR, state}, (host, name, volume)
                if source != state and source not in compose.WRITES_ITS_CONFIG_DIRS:
                    assert mode == ["ro"], (host, name, volume)
            for env_file in spec.get("env_file", []):
                assert env_file in config, (host, name, env_file)


def test_the_composed_addresses_and_ports_are_the_layouts() -> None:
    """The containers share the host's network; what each checks is the host's address of
    layout.toml and a port of its [ports]."""
    ports = set(topology.PORTS.values())
    for host, files in _composed().items():
        address = topology.LAYOUT["hosts"][host]["address"]
        for name, spec in files["services"].items():
            if "healthcheck" not in spec:
                continue
            probe = spec["healthcheck"]["test"][-1]
            match = re.fullmatch(r"exec 3<>/dev/tcp/([\d.]+)/(\d+)", probe)
            assert match, probe
            assert match.group(1) == address, (host, name, probe)
            assert int(match.group(2)) in ports, (host, name, probe)
        text = (compose.OUT / f"{host}.yaml").read_text()
        for other in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text):
            assert other == address, f"{host}.yaml names {other}, not its own address"
