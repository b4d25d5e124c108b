"""The two paths to a running platform (scripts, compose) must describe the same stack."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from core.settings import Settings
from tests.conftest import free_port
from tests.stack import ROOT, STACK_SCRIPT


def _script_defaults() -> dict[str, str]:
    text = (ROOT / "deploy" / "versions.sh").read_text()
    return dict(re.findall(r'^(\w+)="\$\{\w+:-([^}]*)\}"', text, flags=re.M))


def test_compose_matches_the_scripts() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    services = compose["services"]
    defaults = _script_defaults()
    host_ports = {name: int(s["ports"][0].split(":")[1]) for name, s in services.items()
                  if "ports" in s}
    assert host_ports == {"timescaledb": int(defaults["KOL_PG_PORT"]),
                          "mosquitto": int(defaults["KOL_MQTT_PORT"]),
                          "redis": int(defaults["KOL_REDIS_PORT"]),
                          "api": int(defaults["KOL_API_PORT"])}
    assert services["mosquitto"]["ports"][1].split(":")[1] == defaults["KOL_MQTT_WS_PORT"]
    upstream = defaults["TIMESCALEDB_DEBIAN"].split("+")[0]
    image = services["timescaledb"]["image"]
    assert image == f"timescale/timescaledb:{upstream}-pg{defaults['PG_MAJOR']}"

    run_sh = (ROOT / "deploy" / "run.sh").read_text()
    started_by_script = set(re.findall(r'^start \w+ "\$BIN/(kol-[a-z]+)"', run_sh, flags=re.M))
    commands = [s["command"][0] for s in services.values() if isinstance(s.get("command"), list)]
    started_by_compose = {c for c in commands if c.startswith("kol-") and c != "kol-admin"}
    # The simulated fleet is a demo of make run, not part of a deployment.
    assert started_by_script - {"kol-sim"} == started_by_compose

    # Scaled out, gateways must split the messages, not each receive all of them.
    gateway = services["gateway"]["command"]
    assert gateway[gateway.index("--shared-group") + 1]

    platform_env = services["api"]["environment"]
    assert set(platform_env) <= {f"KOL_{name.upper()}" for name in Settings.model_fields}


@pytest.mark.slow
@pytest.mark.usefixtures("fresh_throttle")
def test_run_starts_every_service_and_prints_a_working_login(settings: Settings) -> None:
    env = {**os.environ, "KOL_SIM_PATIENTS": "3", "KOL_RUN_STOP_SECONDS": "5"}
    process = subprocess.Popen(["bash", str(ROOT / "deploy" / "run.sh")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    assert process.stdout is not None
    lines: list[str] = []
    login: tuple[str, str] | None = None
    url = tablet = code = ""
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and login is None:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Dashboard:" in line:
                url = line.split("Dashboard:")[1].strip().rstrip("/")
            if "Tablet app:" in line:
                tablet = line.split("Tablet app:")[1].split()[0]
            if match := re.search(r"pairing code (\d{4}) (\d{4})", line):
                code = match.group(1) + match.group(2)
            if match := re.search(r"Login:\s+(\S+) / (\S+)", line):
                login = (match.group(1), match.group(2))
        assert login is not None, "no login banner:\n" + "".join(lines[-40:])
        assert httpx.get(f"{url}/healthz").status_code == 200
        ready = httpx.get(f"{url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}
        token = httpx.post(f"{url}/api/v1/auth/token",
                           data={"username": login[0], "password": login[1]})
        assert token.status_code == 200, token.text
        # The demo pairs a browser tab as the tablet of a demo patient, with the printed code
        # and with a new one from `deploy/run.sh pair-code`.
        assert httpx.get(tablet).status_code == 200
        assert httpx.post(f"{url}/api/v1/tablet/pair", json={"code": code}).status_code == 201
        again = subprocess.run(["bash", str(ROOT / "deploy" / "run.sh"), "pair-code"], env=env,
                               capture_output=True, text=True, timeout=60, check=True)
        fresh = re.search(r"pairing code (\d{4}) (\d{4})", again.stdout)
        assert fresh is not None, again.stdout + again.stderr
        assert httpx.post(f"{url}/api/v1/tablet/pair",
                          json={"code": fresh.group(1) + fresh.group(2)}).status_code == 201
        services = _services(process.pid)
        assert set(services) == {"kol-api", "kol-gateway", "kol-worker", "kol-beat", "kol-sim"}
        # A service that cannot stop (here: frozen) is named and killed; Ctrl-C stops everything.
        services["kol-beat"].suspend()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    assert "[run] beat did not stop in 5 s: killed" in rest, rest[-3000:]
    assert rest.count("did not stop") == 1, rest[-3000:]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz")
    assert not [p for p in services.values() if p.is_running() and p.status() != "zombie"]


def _services(pid: int) -> dict[str, psutil.Process]:
    """The platform's console scripts running below ``pid``, by name."""
    found: dict[str, psutil.Process] = {}
    for child in psutil.Process(pid).children(recursive=True):
        for arg in child.cmdline()[:2]:
            name = os.path.basename(arg)
            if name.startswith("kol-"):
                found[name] = child
    return found


def test_a_second_install_only_verifies() -> None:
    """`make test` has just installed everything, so running the installer again must find all of
    it in place: no apt run, no TimescaleDB build, no pip or npm install."""
    result = subprocess.run(["bash", str(ROOT / "deploy" / "install.sh"), "--browser"],
                            capture_output=True, text=True, timeout=120, check=True)
    upstream = _script_defaults()["TIMESCALEDB_DEBIAN"].split("+")[0]
    assert result.stdout.splitlines() == [
        "[install] apt: all packages present",
        f"[install] timescaledb {upstream}: installed",
        f"[install] mosquitto {_script_defaults()['MOSQUITTO_DEBIAN'].split('-')[0]}: installed",
        "[install] venv: up to date",
        "[install] npm: up to date",
    ]


def test_the_image_holds_every_package() -> None:
    """The Dockerfile copies each package the project installs (a new domain is not forgotten)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in config["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\w+) \1$", (ROOT / "deploy" / "Dockerfile").read_text(),
                            re.MULTILINE))
    assert copied == packages


def test_a_stack_is_stopped_by_its_directory_alone() -> None:
    """``stack.sh down`` given only ``KOL_STACK_DIR`` stops that stack's Redis: the port in the
    environment (here none, so the default) may be another stack's."""
    state = Path("/var/tmp") / f"kol-stack-down-{secrets.token_hex(4)}"
    bare = {k: v for k, v in os.environ.items() if not k.startswith("KOL_")}
    pid = None
    try:
        subprocess.run(["bash", str(STACK_SCRIPT), "up", "redis"], check=True,
                       capture_output=True, env={**bare, "KOL_STACK_DIR": str(state),
                                                 "KOL_REDIS_PORT": str(free_port())})
        pid = int((state / "redis" / "redis.pid").read_text())
        assert psutil.pid_exists(pid)
        subprocess.run(["bash", str(STACK_SCRIPT), "down", "redis"], check=True,
                       capture_output=True, env={**bare, "KOL_STACK_DIR": str(state)})
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    finally:
        if pid is not None and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(state, ignore_errors=True)


def test_a_checkout_the_stack_user_cannot_read_is_refused_with_the_reason(
        tmp_path: Path) -> None:
    """Under a directory only root may enter, ``stack.sh up`` says why at once instead of the
    services failing one by one with "Permission denied"; nothing is created."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.copytree(ROOT / "deploy", private / "deploy")
    state = Path("/var/tmp") / f"kol-stack-unreadable-{secrets.token_hex(4)}"
    bare = {k: v for k, v in os.environ.items() if not k.startswith("KOL_")}
    done = subprocess.run(["bash", str(private / "deploy" / "stack.sh"), "up", "redis"],
                          capture_output=True, text=True,
                          env={**bare, "KOL_STACK_DIR": str(state)})
    assert done.returncode == 1
    assert "cannot read this checkout" in done.stderr
    assert str(private) in done.stderr
    assert not state.exists()
