"""``kol-sim fleet`` end to end against the real API over HTTP and the real broker: it enrols the
team's simulated patients and tablets through the API once, runs them, and a restart reuses them
(the interface deploy/run.sh uses)."""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import uvicorn

from api.app import create_app
from core.access import SYSTEM
from core.settings import Settings
from simulators.cli import main
from simulators.cohort import generate_cohort
from simulators.provisioning import FleetState, patient_schedule
from tests.api.live_server import https_files
from tests.conftest import free_port, unique
from users import service
from users.schemas import UserCreate


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    port = free_port()
    cert, key = https_files(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning", ssl_certfile=cert,
                                           ssl_keyfile=key))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _team_patients(conn: psycopg.Connection[Any], team: str) -> list[dict[str, Any]]:
    return conn.execute(
        "select p.id, p.profile, p.schedule from patients p join teams t on t.id = p.team_id"
        " where t.name = %s order by p.id", (team,)).fetchall()


def test_fleet_enrols_through_the_api_once_and_reuses_its_tablets(
        api_url: str, settings: Settings, committed_conn: psycopg.Connection[Any],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    team, admin = unique("simteam"), unique("simadmin")
    service.create_user(committed_conn, viewer=SYSTEM, data=UserCreate(
        username=admin, password="sim admin password", role="admin", teams=[team]))
    monkeypatch.setenv("SIM_ADMIN_PW", "sim admin password")
    state_file = tmp_path / "fleet.json"
    argv = ["fleet", "--api-url", api_url, "--username", admin, "--password-env",
            "SIM_ADMIN_PW", "--team", team, "--patients", "3", "--speed", "86400",
            "--history-days", "4", "--duration", "2", "--state", str(state_file)]

    assert main(argv) == 0
    first = capsys.readouterr().out
    patients = _team_patients(committed_conn, team)
    assert len(patients) == 3
    state = FleetState.load(state_file)
    assert state is not None
    assert [d.patient_id for d in state.devices] == [p["id"] for p in patients]
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600, "it holds device passwords"
    cohort = generate_cohort(n_patients=state.cohort_patients, days=state.horizon_days,
                             seed=state.seed, start=state.start_time())
    for device, patient in zip(state.devices, patients, strict=True):
        i = device.patient_index
        assert patient["profile"] == ("kol-ltot" if cohort.patients.ltot[i] else "kol-standard")
        assert patient["schedule"]["days"] == patient_schedule(cohort, i)["days"]
    assert "3 connected, 0 refused" in first, first
    devices = committed_conn.execute(
        "select count(*) as n from devices where patient_id = any(%s)",
        ([p["id"] for p in patients],)).fetchone()
    assert devices is not None
    assert devices["n"] == 3
    clock_after_first = state.clock

    assert main(argv) == 0
    second = capsys.readouterr().out
    assert len(_team_patients(committed_conn, team)) == 3, "a restart enrols nobody new"
    again = FleetState.load(state_file)
    assert again is not None
    assert [d.device_id for d in again.devices] == [d.device_id for d in state.devices]
    assert again.clock >= clock_after_first, "the simulation continues where it stopped"
    assert "3 connected, 0 refused" in second, second
