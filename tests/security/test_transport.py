"""TLS on every listener, verified by the clients; Redis behind a password; no secret on any
process's command line."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import certifi
import httpx
import paho.mqtt.client as mqtt
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from core.settings import Settings
from core.tls import client_context
from tests.api.live_server import serve
from tests.gateway.conftest import Device, gateway_process, mosquitto_pub
from tests.stack import STACK_SCRIPT, read_env_file


def _connack(settings: Settings, *, port: int, context: ssl.SSLContext | None,
             transport: str = "tcp", host: str | None = None) -> str:
    """The broker's answer to the gateway's credentials, or the error that prevented one."""
    answer: list[str] = []
    done = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                   properties: Any) -> None:
        answer.append(str(reason))
        done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                         transport=transport)  # type: ignore[arg-type]
    client.username_pw_set(settings.mqtt_gateway_username,
                           settings.mqtt_gateway_password.get_secret_value())
    if context is not None:
        client.tls_set_context(context)
    client.on_connect = on_connect
    try:
        client.connect(host or settings.mqtt_host, port, keepalive=10)
    except (OSError, ssl.SSLError) as exc:
        return f"error: {type(exc).__name__}: {exc}"
    client.loop_start()
    try:
        done.wait(5)
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0] if answer else "no CONNACK"


def test_mqtt_is_tls_only_and_verified(settings: Settings) -> None:
    assert _connack(settings, port=settings.mqtt_port, context=client_context(settings)) \
        == "Success"
    # In clear: the broker never answers (and never sees a password in clear it accepts).
    assert _connack(settings, port=settings.mqtt_port, context=None) != "Success"
    # The clients verify: the chain (a server the CA did not sign is refused) and the name.
    assert "CERTIFICATE_VERIFY_FAILED" in _connack(settings, port=settings.mqtt_port,
                                                   context=_public_trust())
    context = client_context(settings)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname


def _public_trust() -> ssl.SSLContext:
    """A verifying context with the public CAs only (the tests set SSL_CERT_FILE to the
    stack's CA, which the default context would pick up)."""
    return ssl.create_default_context(cafile=certifi.where())


def test_mqtt_over_secure_websockets_for_browsers(settings: Settings) -> None:
    assert _connack(settings, port=settings.mqtt_ws_port, context=client_context(settings),
                    transport="websockets") == "Success"
    assert _connack(settings, port=settings.mqtt_ws_port, context=None,
                    transport="websockets") != "Success"


def test_the_broker_has_no_plain_text_listener(settings: Settings) -> None:
    config = (Path(os.environ["KOL_STACK_DIR"]) / "mosquitto" / "mosquitto.conf").read_text()
    blocks = config.split("\nlistener ")[1:]
    assert len(blocks) == 2
    assert all("\ncertfile " in block and "\nkeyfile " in block for block in blocks)


def test_the_api_speaks_https_only(settings: Settings) -> None:
    with serve(settings) as (url, _app):
        assert url.startswith("https://")
        assert httpx.get(f"{url}/healthz", verify=client_context(settings)).status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{url}/healthz", verify=_public_trust())
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https://", "http://") + "/healthz")


def test_plain_text_needs_the_local_demo_setting(settings: Settings) -> None:
    with pytest.raises(ValueError, match="KOL_LOCAL_DEMO_PLAINTEXT"):
        Settings(mqtt_tls=False)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "kol-api")], capture_output=True, text=True,
        timeout=60, env={**os.environ, "KOL_TLS_CERT_FILE": "", "KOL_TLS_KEY_FILE": ""})
    assert result.returncode != 0
    assert "KOL_LOCAL_DEMO_PLAINTEXT" in result.stderr


@pytest.fixture
def operator_stack(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A second stack directory (Redis only, on a port of its own) given the operator's own
    certificate, signed by the operator's own CA; the CA's certificate and the stack dir."""
    ca_key, ca, key, csr, cert = (tmp_path / n for n in
                                  ("ca.key", "ca.crt", "op.key", "op.csr", "op.crt"))
    run = [["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
            "-out", ca, "-days", "2", "-subj", "/CN=Operator CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign"],
           ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=operator.example"]]
    for command in run:
        subprocess.run([str(c) for c in command], check=True, capture_output=True)
    ext = tmp_path / "ext"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey",
                    str(ca_key), "-CAcreateserial", "-days", "2", "-extfile", str(ext),
                    "-out", str(cert)], check=True, capture_output=True)
    stack_dir = Path("/var/tmp") / f"kol-operator-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KOL_STACK_DIR": str(stack_dir),
           "KOL_REDIS_PORT": os.environ.get("KOL_OPERATOR_TEST_REDIS_PORT", "18853"),
           "KOL_TLS_CERT_FILE": str(cert), "KOL_TLS_KEY_FILE": str(key),
           "KOL_TLS_CA_FILE": str(ca)}
    try:
        subprocess.run(["bash", str(STACK_SCRIPT), "up", "redis"], env=env, check=True,
                       capture_output=True, timeout=60)
        yield ca, stack_dir
    finally:
        subprocess.run(["bash", str(STACK_SCRIPT), "down", "redis"], env=env,
                       capture_output=True, timeout=60)
        shutil.rmtree(stack_dir, ignore_errors=True)


def test_an_operators_own_certificate_by_setting_two_paths(
        settings: Settings, operator_stack: tuple[Path, Path]) -> None:
    ca, stack_dir = operator_stack
    written = read_env_file(stack_dir / "kol.env")
    assert written["KOL_TLS_CA_FILE"] == str(ca)
    operator = settings.model_copy(update={
        "tls_cert_file": Path(written["KOL_TLS_CERT_FILE"]),
        "tls_key_file": Path(written["KOL_TLS_KEY_FILE"]), "tls_ca_file": ca})
    with serve(operator) as (url, _app):
        served = httpx.get(f"{url}/healthz", verify=client_context(operator))
        assert served.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"{url}/healthz", verify=client_context(settings))  # the stack's CA


def test_redis_requires_its_password(settings: Settings) -> None:
    url = settings.redis_url
    assert redis.Redis.from_url(url).ping()
    without = url.split("@", 1)[0].split("//")[0] + "//" + url.split("@", 1)[1]
    with pytest.raises(redis.AuthenticationError):
        redis.Redis.from_url(without).ping()


def _secrets() -> dict[str, str]:
    stack_dir = Path(os.environ["KOL_STACK_DIR"])
    values = read_env_file(stack_dir / "secrets.env")
    assert values
    assert all(len(v) >= 16 for v in values.values())
    return values


class CommandLines:
    """Every command line seen in /proc while it runs, sampled every few milliseconds, so that
    short-lived helpers (psql, mosquitto_ctrl, redis-cli) are seen too."""

    def __init__(self) -> None:
        self.seen: set[tuple[int, str]] = set()
        """Every (pid, command line) pair: a pid's line changes at exec and pids are reused, and
        neither may hide an earlier line."""
        self._stop = threading.Event()
        self._swept = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    try:
                        command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                    except OSError:
                        continue
                    self.seen.add((int(entry.name), command.decode(errors="replace")))
            self._swept.set()
            time.sleep(0.005)

    def __enter__(self) -> CommandLines:
        self._thread.start()
        # On a loaded machine the thread's first sweep may begin after a short command has
        # come and gone: the block starts once /proc has been read through once.
        assert self._swept.wait(30), "the sampler did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_no_secret_on_any_command_line(settings: Settings, tmp_path: Path) -> None:
    """While the stack (re)starts (creating broker accounts), a gateway and the API run and a
    tablet publishes with Mosquitto's own client, no process shows a password or a key."""
    device_password = uuid.uuid4().hex
    with CommandLines() as lines:
        subprocess.run(["bash", str(STACK_SCRIPT), "up"], check=True, capture_output=True)
        client_id = f"cmdline-gw-{uuid.uuid4().hex[:8]}"
        gateway = gateway_process(settings, "--client-id", client_id)
        api = subprocess.Popen([str(Path(sys.executable).parent / "kol-api")],
                               env={**os.environ, "KOL_API_PORT": "0", "KOL_API_WORKERS": "1"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            device = Device(device_id=f"tab-{uuid.uuid4().hex[:8]}", password=device_password,
                            patient_id=0)
            mosquitto_pub(settings, device, device.readings_topic, b"{}")
            time.sleep(3)
            assert gateway.poll() is None
            assert api.poll() is None
        finally:
            for process in (gateway, api):
                process.terminate()
                process.wait(20)
    secrets = {**_secrets(), "device password": device_password}
    assert len(lines.seen) > 20
    assert any("stack.sh up" in c for _, c in lines.seen)  # the sampler was running
    for pid, command in lines.seen:
        for name, value in secrets.items():
            assert value not in command, f"{name} on the command line of {pid}: {command[:80]}"

