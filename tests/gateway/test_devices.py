"""Device provisioning and deactivation over HTTP and with kol-admin, against the real broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from core.settings import Settings
from devices.broker import BrokerAdmin
from tests.conftest import insert_patient
from tests.gateway.conftest import login
from tests.mqtt_helpers import TestClient as MqttClient
from tests.stack import ROOT


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def can_connect(settings: Settings, device_id: str, password: str) -> bool:
    with MqttClient(settings, username=device_id, password=password, client_id=device_id) as c:
        assert c.connack is not None
        return not c.connack.is_failure


def test_provision_and_deactivate_over_http(
        settings: Settings, api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    admin = login(api, committed_conn, "admin", patient_id=patient)
    response = api.post(f"/api/v1/patients/{patient}/devices", headers=admin)
    assert response.status_code == 201, response.text
    body = response.json()
    device_id, password = body["device_id"], body["mqtt_password"]
    assert body["mqtt_username"] == device_id
    assert body["patient_id"] == patient
    assert len(password) >= 40
    row = committed_conn.execute("select password_hash, active from devices where device_id = %s",
                                 (device_id,)).fetchone()
    assert row is not None
    assert row["active"]
    assert password not in row["password_hash"]
    assert can_connect(settings, device_id, password)
    assert not can_connect(settings, device_id, password + "x")

    gone = api.delete(f"/api/v1/devices/{device_id}", headers=admin)
    assert gone.status_code == 200, gone.text
    assert not can_connect(settings, device_id, password)
    row = committed_conn.execute("select active, deactivated_at from devices where device_id = %s",
                                 (device_id,)).fetchone()
    assert row is not None
    assert not row["active"]
    assert row["deactivated_at"] is not None
    actions = [r["action"] for r in committed_conn.execute(
        "select action from audit_log where entity_type = 'device' and entity_id = %s order by id",
        (device_id,))]
    assert actions == ["device.provision", "device.deactivate"]


def test_errors(api: TestClient, committed_conn: psycopg.Connection[Any]) -> None:
    admin = login(api, committed_conn, "admin")
    missing = api.post("/api/v1/patients/999999999/devices", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "urn:kol:problem:patient-not-found"
    assert api.delete("/api/v1/devices/no-such-device", headers=admin).status_code == 404
    nurse = login(api, committed_conn, "nurse")
    patient = insert_patient(committed_conn)
    assert api.post(f"/api/v1/patients/{patient}/devices", headers=nurse).status_code == 403
    assert api.post(f"/api/v1/patients/{patient}/devices").status_code == 401
    assert api.get("/api/v1/rejections", headers=nurse).status_code == 403


def kol_admin(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``kol-admin`` with the run's settings (on ``database_url`` instead, where given)."""
    env = {**os.environ, **({"KOL_DATABASE_URL": database_url} if database_url else {})}
    return subprocess.run([os.path.join(os.path.dirname(sys.executable), "kol-admin"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_kol_admin_provision_and_deactivate(
        settings: Settings, committed_conn: psycopg.Connection[Any]) -> None:
    patient = insert_patient(committed_conn)
    made = kol_admin("provision-device", "--patient-id", str(patient))
    assert made.returncode == 0, made.stderr
    fields = dict(line.split(": ", 1) for line in made.stdout.splitlines())
    assert can_connect(settings, fields["device_id"], fields["mqtt_password"])
    gone = kol_admin("deactivate-device", fields["device_id"])
    assert gone.returncode == 0, gone.stderr
    assert not can_connect(settings, fields["device_id"], fields["mqtt_password"])
    assert kol_admin("provision-device", "--patient-id", "999999999").returncode == 1
    with BrokerAdmin.from_settings(settings) as broker:
        broker.revoke_device(fields["device_id"])
