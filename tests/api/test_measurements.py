from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from patients.schemas import BucketedMeasurement
from tests.api.helpers import User, make_user
from tests.api.test_patients import enrol
from tests.conftest import unique

DAY0 = datetime(2026, 10, 1, tzinfo=UTC)


@pytest.fixture
def setup(client: TestClient, committed_conn: psycopg.Connection[Any]
          ) -> tuple[User, int]:
    team = unique("team")
    admin = make_user(client, committed_conn, role="admin", teams=[team])
    nurse = make_user(client, committed_conn, role="nurse", teams=[team])
    pid = enrol(client, admin, team)["id"]
    # Day d has SpO2 readings at 07:00 and 19:00 UTC: 90 + d and 92 + d; pulse once at 07:00.
    with committed_conn.cursor().copy(
            "copy readings (patient_id, type, measured_at, value, device_id, msg_id)"
            " from stdin") as copy:
        for d in range(10):
            day = DAY0 + timedelta(days=d)
            copy.write_row((pid, "spo2", day + timedelta(hours=7), 90.0 + d, "dev", "m"))
            copy.write_row((pid, "spo2", day + timedelta(hours=19), 92.0 + d, "dev", "m"))
            copy.write_row((pid, "pulse", day + timedelta(hours=7), 80.0, "dev", "m"))
    return nurse, pid


def span(days: int = 10) -> dict[str, str]:
    return {"from": DAY0.isoformat(), "to": (DAY0 + timedelta(days=days)).isoformat()}


def test_raw_readings_ascending_and_filtered_by_type(client: TestClient,
                                                     setup: tuple[User, int]) -> None:
    nurse, pid = setup
    response = client.get(f"/api/v1/patients/{pid}/measurements",
                          params={"type": "spo2", **span(2)}, headers=nurse.headers)
    assert response.status_code == 200, response.text
    assert [r["value"] for r in response.json()] == [90.0, 92.0, 91.0, 93.0]
    assert all(r["type"] == "spo2" for r in response.json())


def test_raw_readings_page_through_every_row_once(client: TestClient,
                                                  setup: tuple[User, int]) -> None:
    nurse, pid = setup
    rows: list[tuple[str, str]] = []
    cursor = None
    while True:
        params = {"limit": 7, **span(), **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/patients/{pid}/measurements", params=params,
                              headers=nurse.headers)
        rows += [(r["measured_at"], r["type"]) for r in response.json()]
        cursor = response.headers.get("x-next-cursor")
        if cursor is None:
            break
    assert len(rows) == 30
    assert len(set(rows)) == 30
    assert rows == sorted(rows)


def test_daily_buckets_aggregate_with_time_bucket(client: TestClient,
                                                  setup: tuple[User, int]) -> None:
    nurse, pid = setup
    response = client.get(f"/api/v1/patients/{pid}/measurements",
                          params={"type": "spo2", "bucket": "1d", **span(3)},
                          headers=nurse.headers)
    assert response.status_code == 200, response.text
    assert [(b["min"], b["max"], b["mean"], b["count"]) for b in response.json()] == [
        (90.0, 92.0, 91.0, 2), (91.0, 93.0, 92.0, 2), (92.0, 94.0, 93.0, 2)]
    assert response.json()[0]["bucket"] == "2026-10-01T00:00:00Z"
    # The database builds this body: it must be exactly what the response model describes.
    for item in response.json():
        assert BucketedMeasurement.model_validate(item).model_dump(mode="json") == item
    hourly = client.get(f"/api/v1/patients/{pid}/measurements",
                        params={"bucket": "1h", **span(1)}, headers=nurse.headers).json()
    assert [(b["type"], b["count"]) for b in hourly] == [("pulse", 1), ("spo2", 1), ("spo2", 1)]


@pytest.mark.parametrize(("params", "status", "slug"), [
    ({"type": "glucose"}, 422, "unknown-type"),
    ({"bucket": "1w"}, 422, "validation-error"),
    ({"from": "2026-10-05T00:00:00Z", "to": "2026-10-01T00:00:00Z"}, 422, "invalid-range"),
    # The cursor's form is in the document (a pattern); any cursor of that form is a position.
    ({"cursor": "not-a-cursor"}, 422, "validation-error"),
    ({"from": "0.5"}, 422, "validation-error"),
    ({"from": "2026-10-05T00:00:00"}, 422, "validation-error"),
])
def test_bad_queries_answer_with_a_reason(client: TestClient, setup: tuple[User, int],
                                          params: dict[str, str], status: int, slug: str) -> None:
    nurse, pid = setup
    response = client.get(f"/api/v1/patients/{pid}/measurements", params=params,
                          headers=nurse.headers)
    assert response.status_code == status, response.text
    assert response.json()["type"] == f"urn:kol:problem:{slug}"
