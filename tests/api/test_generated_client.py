"""A client generated from the live ``/openapi.json`` by ``openapi-python-client``, as an
integrator would generate one, used against the live stack: log in, enrol a patient, read the
overview with the alert the real engine raised, resolve it, and read the problems the document
promised as ``Problem`` objects."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from alerts.streaming import evaluate_committed
from core.settings import Settings
from tests.alerts.conftest import commit_readings
from tests.api.helpers import PASSWORD, create_user
from tests.api.live_server import serve
from tests.conftest import unique

GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture(scope="module")
def live_url(settings: Settings) -> Iterator[str]:
    with serve(settings) as (url, _):
        yield url


@pytest.fixture(scope="module")
def kol_client(live_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The generated package, imported from a scratch directory."""
    root = tmp_path_factory.mktemp("generated")
    document = root / "openapi.json"
    # The document is generated on first request: seconds on a busy machine.
    document.write_text(httpx.get(f"{live_url}/openapi.json", timeout=60).text)
    config = root / "config.yaml"
    config.write_text("package_name_override: kol_client\npost_hooks: []\n")
    # --fail-on-warning: a construct the generator cannot turn into code fails the test.
    subprocess.run([str(GENERATOR), "generate", "--path", str(document), "--meta", "none",
                    "--output-path", str(root / "kol_client"), "--config", str(config),
                    "--fail-on-warning"], check=True, cwd=root, capture_output=True)
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("kol_client")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "kol_client" or m.startswith("kol_client.")]:
            del sys.modules[name]


def _api(kol_client: ModuleType, url: str, username: str) -> Any:
    issue_token = importlib.import_module("kol_client.api.auth.issue_token")
    models = importlib.import_module("kol_client.models")
    token = issue_token.sync(client=kol_client.Client(base_url=url),
                             body=models.BodyIssueToken(username=username, password=PASSWORD))
    assert isinstance(token, models.Token), token
    return kol_client.AuthenticatedClient(base_url=url, token=token.access_token)


def test_a_generated_client_enrols_reads_the_overview_and_resolves_an_alert(
        kol_client: ModuleType, live_url: str, pool: ConnectionPool,
        committed_conn: psycopg.Connection[Any]) -> None:
    models = importlib.import_module("kol_client.models")
    enrol_patient = importlib.import_module("kol_client.api.patients.enrol_patient")
    patient_overview = importlib.import_module("kol_client.api.patients.patient_overview")
    resolve = importlib.import_module("kol_client.api.alerts.resolve")
    team = unique("team")
    admin = _api(kol_client, live_url, create_user(committed_conn, role="admin", teams=[team]))
    nurse = _api(kol_client, live_url, create_user(committed_conn, role="nurse", teams=[team]))
    stranger = _api(kol_client, live_url,
                    create_user(committed_conn, role="nurse", teams=[unique("team")]))

    patient = enrol_patient.sync(client=admin, body=models.PatientCreate(
        display_name="Karen Jensen", team=team, profile=models.PatientCreateProfile.KOL_STANDARD,
        schedule=models.Schedule(days=[models.ScheduleDaysItem.MON],
                                 deadline="12:00", types=[models.ScheduleTypesItem.SPO2])))
    assert isinstance(patient, models.PatientOut), patient
    assert patient.team == team

    # A red SpO2 reading, evaluated by the real alert engine.
    measured_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    evaluate_committed(pool, commit_readings(committed_conn,
                                             [(patient.id, "spo2", measured_at, 85.0)]))

    overview = patient_overview.sync(patient_id=patient.id, client=nurse)
    assert isinstance(overview, models.PatientOverview), overview
    assert [(r.type_, r.value) for r in overview.latest_readings] == [("spo2", 85.0)]
    [alert] = overview.open_alerts
    assert (alert.severity, alert.status) == (models.AlertOutSeverity.RED,
                                              models.AlertOutStatus.OPEN)

    # The problems come back as the document's Problem, with their stable types: resolving what
    # she did not see (a yellow) is refused, with the severity it has now.
    unseen = resolve.sync_detailed(alert_id=alert.id, client=nurse, body=models.DecisionIn(
        seen_severity=models.DecisionInSeenSeverityType0.YELLOW))
    assert unseen.status_code == 409
    assert isinstance(unseen.parsed, models.Problem)
    assert unseen.parsed.type_ == "urn:kol:problem:alert-changed"
    assert unseen.parsed.additional_properties["severity"] == "red"

    resolved = resolve.sync(alert_id=alert.id, client=nurse, body=models.DecisionIn(
        note="rang Karen; oximeter on a cold finger",
        seen_severity=models.DecisionInSeenSeverityType0.RED,
        disposition=models.DecisionInDispositionType0.ADVICE_BY_PHONE))
    assert isinstance(resolved, models.AlertOut), resolved
    assert resolved.status == models.AlertOutStatus.RESOLVED

    again = resolve.sync_detailed(alert_id=alert.id, client=nurse, body=models.DecisionIn())
    assert again.status_code == 409
    assert isinstance(again.parsed, models.Problem)
    assert again.parsed.type_ == "urn:kol:problem:alert-state-conflict"
    hidden = patient_overview.sync_detailed(patient_id=patient.id, client=stranger)
    assert hidden.status_code == 404
    assert isinstance(hidden.parsed, models.Problem)
    assert hidden.parsed.type_ == "urn:kol:problem:patient-not-found"
    after = patient_overview.sync(patient_id=patient.id, client=nurse)
    assert isinstance(after, models.PatientOverview)
    assert after.open_alerts == []
