"""``kol-admin broker-sync`` brings a broker that missed provisionings and revocations level with
the database, against two real brokers: the test stack's and a second Mosquitto started here
as deploy/stack.sh starts one (deploy/mosquitto/write-config.sh, ``mosquitto_ctrl dynsec
init``), on ports of its own."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from core.access import SYSTEM
from core.migrate import migrate
from core.settings import Settings
from core.tls import mqtt_context
from devices import broker_state, service
from devices.broker import BrokerAdmin, device_acls, device_role
from tests.conftest import free_port, insert_patient
from tests.gateway.test_devices import can_connect, kol_admin
from tests.stack import ROOT

MOSQUITTO_PREFIX = Path(os.environ.get("MOSQUITTO_PREFIX", "/opt/kol/mosquitto-2.0.21"))
STACK_USER = os.environ.get("KOL_STACK_USER", "kol")


class SecondBroker:
    """A Mosquitto of its own, run by the stack's user with the stack's certificate and the
    same administrator password, so that one BrokerAdmin setting reaches both."""

    def __init__(self, settings: Settings, state: Path) -> None:
        self.settings = settings.model_copy(update={"mqtt_port": free_port()})
        self.state = state
        self.file = state / "dynamic-security.json"
        self.proc: subprocess.Popen[bytes] | None = None
        password = settings.mqtt_admin_password.get_secret_value()
        self._as_stack_user(
            f"umask 077 && {MOSQUITTO_PREFIX}/bin/mosquitto_ctrl dynsec init {self.file} "
            f"{settings.mqtt_admin_username}", stdin=f"{password}\n{password}\n")
        self._as_stack_user(
            f"umask 077 && sh {ROOT}/deploy/mosquitto/write-config.sh {state}/mosquitto.conf "
            f"127.0.0.1 {self.settings.mqtt_port} {free_port()} "
            f"{MOSQUITTO_PREFIX}/lib/mosquitto_dynamic_security.so {state} "
            f"{settings.tls_cert_file} {settings.tls_key_file}")

    def _as_stack_user(self, command: str, stdin: str | None = None) -> None:
        subprocess.run(["runuser", "-u", STACK_USER, "--", "sh", "-c", command], input=stdin,
                       text=True, check=True, capture_output=True)

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["runuser", "-u", STACK_USER, "--", str(MOSQUITTO_PREFIX / "sbin" / "mosquitto"),
             "-c", str(self.state / "mosquitto.conf")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.settings.mqtt_port), 1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)


def admin_of(s: Settings, peers: Sequence[BrokerAdmin] = ()) -> BrokerAdmin:
    """The administration of the broker of ``s`` (and of ``peers``)."""
    return BrokerAdmin(host=s.mqtt_host, port=s.mqtt_port, username=s.mqtt_admin_username,
                       password=s.mqtt_admin_password.get_secret_value(), tls=mqtt_context(s),
                       peers=peers)


@pytest.fixture
def second_broker(settings: Settings) -> Iterator[SecondBroker]:
    state = Path(os.environ["KOL_STACK_DIR"]) / f"second-broker-{secrets.token_hex(4)}"
    state.mkdir(mode=0o700)
    shutil.chown(state, STACK_USER, STACK_USER)
    broker: SecondBroker | None = None
    try:
        broker = SecondBroker(settings, state)
        broker.start()
        yield broker
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(state)


@pytest.fixture
def own_database(scratch_database: str) -> str:
    """A migrated database of the test's own: the tool levels a broker with *every* device of
    its database, and the run's database holds other tests' devices, which the second broker
    never had (and some of which no broker has)."""
    migrate(scratch_database)
    return scratch_database


@pytest.fixture
def committed_conn(own_database: str) -> Iterator[psycopg.Connection[Any]]:
    """Here an autocommit connection to the test's own database, not the run's."""
    with psycopg.connect(own_database, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def test_a_lagging_broker_is_brought_level_with_the_database(
        settings: Settings, committed_conn: psycopg.Connection[Any], own_database: str,
        second_broker: SecondBroker) -> None:
    both = admin_of(settings, [admin_of(second_broker.settings)])
    patient = insert_patient(committed_conn)
    with both:
        kept = service.provision(committed_conn, viewer=SYSTEM, broker=both, patient_id=patient)
        revoked = service.provision(committed_conn, viewer=SYSTEM, broker=both,
                                    patient_id=patient)
    assert can_connect(second_broker.settings, revoked.device_id, revoked.mqtt_password)

    # The second broker is down (and out of KOL_MQTT_ADMIN_HOSTS) while a tablet is provisioned
    # and another revoked at the first.
    second_broker.stop()
    with admin_of(settings) as first:
        new = service.provision(committed_conn, viewer=SYSTEM, broker=first, patient_id=patient)
        service.deactivate(committed_conn, viewer=SYSTEM, broker=first,
                           device_id=revoked.device_id)
    healthy = Path(os.environ["KOL_STACK_DIR"]) / "mosquitto" / "dynamic-security.json"
    sync = ("broker-sync", str(second_broker.file), "--credentials-from", str(healthy))

    before = second_broker.file.read_text()
    dry = kol_admin(*sync, "--dry-run", database_url=own_database)
    assert dry.returncode == 0, dry.stderr
    assert f"would restore {new.device_id}: credentials from {healthy}" in dry.stdout
    assert f"would remove {revoked.device_id}: deactivated" in dry.stdout
    assert second_broker.file.read_text() == before

    done = kol_admin(*sync, database_url=own_database)
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    assert f"restore {new.device_id}" in done.stdout
    assert f"remove {revoked.device_id}" in done.stdout
    assert kept.device_id not in done.stdout
    assert oct(second_broker.file.stat().st_mode & 0o777) == "0o600"
    assert second_broker.file.stat().st_uid == (second_broker.state.stat().st_uid)
    again = kol_admin(*sync, database_url=own_database)
    assert again.returncode == 0, again.stderr
    assert "is level with the database" in again.stdout

    second_broker.start()
    b2 = second_broker.settings
    assert can_connect(b2, new.device_id, new.mqtt_password)
    assert not can_connect(b2, new.device_id, new.mqtt_password + "x")
    assert can_connect(b2, kept.device_id, kept.mqtt_password)
    assert not can_connect(b2, revoked.device_id, revoked.mqtt_password)
    # The restored account has its own role, with the topics provisioning gives.
    with admin_of(second_broker.settings) as admin:
        (client,) = admin.execute({"command": "getClient", "username": new.device_id})
        (role,) = admin.execute({"command": "getRole", "rolename": device_role(new.device_id)})
    assert [r["rolename"] for r in client["data"]["client"]["roles"]] == \
        [device_role(new.device_id)]
    assert _acls(role["data"]["role"]["acls"]) == _acls(device_acls(new.device_id))

    # A running broker's file is not edited: the broker would serve and later rewrite the old.
    running = kol_admin(*sync, database_url=own_database)
    assert running.returncode == 1
    assert "is running" in running.stderr

    # A running broker over its API: a revocation and a provisioning it missed, an account
    # disabled and one whose role allows more. It fixes what the API can and names the account
    # it lacks (only the state file can be given that).
    with admin_of(settings) as first:
        service.deactivate(committed_conn, viewer=SYSTEM, broker=first, device_id=new.device_id)
        lacking = service.provision(committed_conn, viewer=SYSTEM, broker=first,
                                    patient_id=patient)
    with admin_of(b2) as admin:
        admin.execute({"command": "disableClient", "username": kept.device_id},
                      {"command": "addRoleACL", "rolename": device_role(kept.device_id),
                       "acltype": "subscribePattern", "topic": "#", "allow": True})
    assert can_connect(b2, new.device_id, new.mqtt_password)
    assert not can_connect(b2, kept.device_id, kept.mqtt_password)
    live = ("broker-sync", "--broker", f"{b2.mqtt_host}:{b2.mqtt_port}")
    dry = kol_admin(*live, "--dry-run", database_url=own_database)
    assert dry.returncode == 1
    assert f"{lacking.device_id} is active but this broker lacks its account" in dry.stderr
    assert f"would remove {new.device_id}: deactivated" in dry.stdout
    assert can_connect(b2, new.device_id, new.mqtt_password)
    done = kol_admin(*live, database_url=own_database)
    print(done.stdout)
    assert done.returncode == 1
    assert done.stdout.splitlines()[:3] == [f"remove {new.device_id}: deactivated",
                                            f"fix-acls {kept.device_id}: its own topics only",
                                            f"enable {kept.device_id}: was disabled"]
    assert not can_connect(b2, new.device_id, new.mqtt_password)
    assert can_connect(b2, kept.device_id, kept.mqtt_password)
    with admin_of(b2) as admin:
        (role,) = admin.execute({"command": "getRole", "rolename": device_role(kept.device_id)})
    assert _acls(role["data"]["role"]["acls"]) == _acls(device_acls(kept.device_id))
    again = kol_admin(*live, database_url=own_database)
    assert f"{b2.mqtt_host}:{b2.mqtt_port} is level with the database" in again.stdout
    assert lacking.device_id in again.stderr


def _acls(acls: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a["acltype"], a["topic"]) for a in acls}


def test_levelling_fixes_accounts_and_names_what_it_cannot_restore() -> None:
    """Without services: a disabled account, wrong ACLs, a stray role, an account the database
    does not know, and an active device that no source holds."""
    role = device_role

    def account(device_id: str, **extra: Any) -> dict[str, Any]:
        return {"username": device_id, "clientid": device_id, "password": "h", "salt": "s",
                "iterations": 101, "roles": [{"rolename": role(device_id)}], **extra}

    state: dict[str, Any] = {
        "clients": [{"username": "kol-gateway", "roles": [{"rolename": "kol-gateway"}]},
                    account("tab-off", disabled=True), account("tab-acl"), account("tab-gone"),
                    account("tab-stranger")],
        "roles": [{"rolename": "kol-gateway", "acls": []},
                  {"rolename": role("tab-off"), "acls": device_acls("tab-off")},
                  {"rolename": role("tab-acl"), "acls": [
                      {"acltype": "subscribePattern", "topic": "#", "allow": True}]},
                  {"rolename": role("tab-gone"), "acls": device_acls("tab-gone")},
                  {"rolename": role("tab-half"), "acls": device_acls("tab-half")}]}
    devices = {"tab-off": True, "tab-acl": True, "tab-gone": False, "tab-half": False,
               "tab-lost": True}
    changes, unrestorable = broker_state.level(state, devices=devices, sources=[])
    assert [str(c) for c in changes] == [
        "remove tab-gone: deactivated",
        "remove tab-half: deactivated",
        "remove tab-stranger: unknown to the database",
        "fix-acls tab-acl: its own topics only",
        "enable tab-off: was disabled",
    ]
    assert unrestorable == ["tab-lost"]
    assert {c["username"] for c in state["clients"]} == {"kol-gateway", "tab-off", "tab-acl"}
    assert {r["rolename"] for r in state["roles"]} == {"kol-gateway", role("tab-off"),
                                                      role("tab-acl")}
    # Level now: the same run again changes nothing (the state survives its file's format).
    again = json.loads(json.dumps(state))
    assert broker_state.level(again, devices=devices, sources=[]) == ([], ["tab-lost"])
