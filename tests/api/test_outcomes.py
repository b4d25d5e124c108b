"""Issue #19's outcome figures: every figure of the API is computed again here, in Python, from
the rows it counts (patients, standing care events, pauses, readings, alerts and their events,
answers), for each team and the municipality; small groups are suppressed; a manager sees no
patient."""

from __future__ import annotations

import csv
import io
import json
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from core.pro import PRO_QUESTION, PRO_QUESTIONNAIRE
from core.questionnaires import SYMPTOM_DIARY
from outcomes.schemas import DISPOSITIONS, SEVERITIES
from tests.api.helpers import User, make_user
from tests.conftest import unique

TZ = ZoneInfo("Europe/Copenhagen")
MONTHS = [f"2019-{m:02d}" for m in range(1, 7)]
REFERENCE = 2018
INFINITY = datetime.max.replace(tzinfo=UTC)
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True, slots=True)
class World:
    teams: list[str]
    patient_ids: list[int]
    names: list[str]
    alert_ids: list[int]


def _local(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ)


def build(conn: psycopg.Connection[Any], seed: int = 19) -> World:
    """Three teams (7, 3 and 5 patients) monitored in 2018-2019, with everything counted."""
    rng = random.Random(seed)
    teams = [unique("out-a"), unique("out-b"), unique("out-c")]
    patient_ids, names, alert_ids = [], [], []
    for team, size in zip(teams, (7, 3, 5), strict=True):
        team_id = conn.execute("insert into teams (name) values (%s) returning id",
                               (team,)).fetchone()["id"]  # type: ignore[index]
        for _ in range(size):
            name = unique("Borger")
            created = _local(date(2018, 6, 1) + timedelta(days=rng.randrange(0, 240)),
                             time(rng.randrange(8, 16), 30))
            discharged = (_local(date(2019, 4, 1) + timedelta(days=rng.randrange(0, 30)),
                                 time(10)) if rng.random() < 0.3 else None)
            schedule = {"days": rng.sample(DAYS, rng.randrange(2, 5)),
                        "deadline": rng.choice(["10:00", "12:00", "23:30"]),
                        "types": rng.sample(["spo2", "pulse", "weight"], rng.randrange(1, 4))}
            pid = conn.execute(
                "insert into patients (display_name, team_id, profile, schedule, created_at,"
                " discharged_at, active, admissions_before) values"
                " (%s, %s, 'kol-standard', %s, %s, %s, %s, %s) returning id",
                (name, team_id, Jsonb(schedule), created, discharged, discharged is None,
                 rng.choice([None, 0, 1, 2, 3]))).fetchone()["id"]  # type: ignore[index]
            patient_ids.append(pid)
            names.append(name)
            end = discharged or _local(date(2019, 7, 10), time(0))
            # Some changed schedule in 2019: the days before count under the old one.
            if rng.random() < 0.5:
                changed = _local(date(2019, 1, 1) + timedelta(days=rng.randrange(0, 150)),
                                 time(rng.randrange(0, 24)))
                conn.execute("update schedule_versions set valid_to = %s where patient_id = %s",
                             (changed, pid))
                conn.execute(
                    "insert into schedule_versions (patient_id, schedule, valid_from)"
                    " values (%s, %s, %s)", (pid, Jsonb({
                        "days": rng.sample(DAYS, rng.randrange(1, 7)),
                        "deadline": rng.choice(["09:00", "12:00", "20:00"]),
                        "types": rng.sample(["spo2", "pulse", "weight"], rng.randrange(1, 4))}),
                        changed))
            # A pause of a week for some.
            if rng.random() < 0.5:
                starts = created + timedelta(days=rng.randrange(10, 100))
                conn.execute("insert into patient_pauses (patient_id, starts_at, ends_at, reason)"
                             " values (%s, %s, %s, 'holiday')", (pid, starts,
                                                                  starts + timedelta(days=7)))
            # Care events, some before enrolment and some withdrawn (neither counted).
            events = [(rng.choice(["admission", "outpatient", "emergency", "discharge"]),
                       created + timedelta(days=rng.randrange(-60, 330),
                                           hours=rng.randrange(24)))
                      for _ in range(rng.randrange(0, 6))]
            # And an admission in the months shown, while she was monitored.
            first = max(created, _local(date(2019, 1, 1), time(0)))
            events.append(("admission", first + (min(end, _local(date(2019, 7, 1), time(0)))
                                                 - first) * rng.random()))
            for k, (kind, at) in enumerate(events):
                withdrawn = at + timedelta(days=1) if rng.random() < 0.3 else None
                conn.execute(
                    "insert into care_events (patient_id, kind, occurred_at, reason,"
                    " withdrawn_at, withdrawal_reason) values (%s, %s, %s, %s, %s, %s)",
                    (pid, kind, at, rng.choice(["copd_exacerbation", "copd_exacerbation",
                                                "pneumonia"]),
                     withdrawn, "wrong patient" if withdrawn else ""))
                # Most admissions had an alert in the days before: within the 7-day warning
                # window or just outside it, red, yellow or blue in turn (only red and yellow
                # warn).
                if kind == "admission" and rng.random() < 0.8:
                    conn.execute(
                        "insert into alerts (patient_id, rule, type, severity, status, opened_at,"
                        " reason) values (%s, %s, 'spo2', %s, 'open', %s, 'x')",
                        (pid, f"warning-{k}", ("red", "yellow", "blue")[len(patient_ids) % 3],
                         at - timedelta(hours=rng.randrange(0, 9 * 24))))
            # Readings: most scheduled ones, some off-schedule.
            rows = []
            day = created.astimezone(TZ).date()
            while _local(day, time(0)) < end:
                for kind in ("spo2", "pulse", "weight"):
                    if rng.random() < 0.6:
                        rows.append((pid, kind, _local(day, time(rng.randrange(0, 24),
                                                                 rng.randrange(60))),
                                     90.0, "dev", "m"))
                day += timedelta(days=1)
            with conn.cursor() as cur:
                cur.executemany("insert into readings (patient_id, type, measured_at, value,"
                                " device_id, msg_id) values (%s, %s, %s, %s, %s, %s)", rows)
            # Alerts with dispositions; red ones acknowledged after a while, some escalated.
            for n in range(rng.randrange(2, 12)):
                opened = created + timedelta(hours=rng.randrange(1, 24 * 300))
                severity = rng.choice(SEVERITIES)
                handled = opened + timedelta(minutes=rng.randrange(1, 600))
                step = rng.choice(["ack", "resolve", "none"])
                alert = conn.execute(
                    "insert into alerts (patient_id, rule, type, severity, status, opened_at,"
                    " reason, disposition, acknowledged_at, resolved_at, resolved_by)"
                    " values (%s, %s, 'spo2', %s, %s, %s, 'x', %s, %s, %s, null)"
                    " returning id",
                    (pid, f"test-{n}", severity, {"ack": "acknowledged", "resolve": "resolved",
                                     "none": "open"}[step], opened,
                     rng.choice([*DISPOSITIONS[:-1], None]),
                     handled if step == "ack" else None,
                     handled if step == "resolve" else None)).fetchone()["id"]  # type: ignore[index]
                alert_ids.append(alert)
                escalated = severity == "red" and rng.random() < 0.5
                conn.execute("insert into alert_events (alert_id, patient_id, event, severity,"
                             " at) values (%s, %s, 'opened', %s, %s)",
                             (alert, pid, "yellow" if escalated else severity, opened))
                if escalated:
                    conn.execute("insert into alert_events (alert_id, patient_id, event,"
                                 " severity, at) values (%s, %s, 'escalated', 'red', %s)",
                                 (alert, pid, opened + timedelta(minutes=rng.randrange(0, 90))))
            # The monthly question.
            asked = created + timedelta(days=20)
            while asked < end:
                conn.execute("insert into questionnaire_responses (patient_id, questionnaire,"
                             " authored_at, answers, device_id, msg_id) values (%s, %s, %s, %s,"
                             " 'test', 'test')",
                             (pid, PRO_QUESTIONNAIRE,
                              asked, Jsonb({PRO_QUESTION: rng.random() < 0.8})))
                # A symptom diary the same day: a response, but not to the question.
                conn.execute("insert into questionnaire_responses (patient_id, questionnaire,"
                             " authored_at, answers, symptom_mask, device_id, msg_id)"
                             " values (%s, %s, %s, %s, 0, 'test', 'test')",
                             (pid, SYMPTOM_DIARY, asked, Jsonb({"cough": False})))
                asked += timedelta(days=30)
    return World(teams=teams, patient_ids=patient_ids, names=names, alert_ids=alert_ids)


@pytest.fixture(scope="module")
def world(committed_conn_module: psycopg.Connection[Any]) -> World:
    return build(committed_conn_module)


@pytest.fixture(scope="module")
def committed_conn_module(settings: Any) -> Any:
    with psycopg.connect(settings.database_url, autocommit=True,
                         row_factory=psycopg.rows.dict_row) as conn:
        yield conn


def periods_of(months: list[str], reference: int) -> list[tuple[str, datetime, datetime]]:
    """The months, then the reference year, as (label, start, end) in local time."""
    periods = []
    for label in months:
        year, month = int(label[:4]), int(label[5:])
        nxt = (year + month // 12, month % 12 + 1)
        periods.append((label, datetime(year, month, 1, tzinfo=TZ),
                        datetime(*nxt, 1, tzinfo=TZ)))
    periods.append((str(reference), datetime(reference, 1, 1, tzinfo=TZ),
                    datetime(reference + 1, 1, 1, tzinfo=TZ)))
    return periods


def _percentile(values: list[float], q: float) -> float:
    """PostgreSQL's percentile_cont: linear between the closest ranks."""
    ordered = sorted(values)
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def expected(conn: psycopg.Connection[Any], now: datetime,
             periods: list[tuple[str, datetime, datetime]]
             ) -> dict[tuple[str, str | None], dict[str, Any]]:
    """Every figure per (period, team name or None), from the rows."""
    patients = conn.execute("select p.*, t.name as team from patients p"
                            " join teams t on t.id = p.team_id").fetchall()
    by_id = {p["id"]: p for p in patients}
    start = min(lo for _, lo, _ in periods)
    end = max(hi for _, _, hi in periods)
    events = conn.execute("select * from care_events where withdrawn_at is null").fetchall()
    pauses = defaultdict(list)
    for s in conn.execute("select * from patient_pauses").fetchall():
        pauses[s["patient_id"]].append(s)
    versions = defaultdict(list)
    for v in conn.execute("select * from schedule_versions").fetchall():
        versions[v["patient_id"]].append(v)
    taken = {(r["patient_id"], r["type"], r["measured_at"].astimezone(TZ).date())
             for r in conn.execute("select patient_id, type, measured_at from readings"
                                   " where measured_at >= %s and measured_at < %s",
                                   (start - timedelta(days=1), end + timedelta(days=1)))}
    alerts = conn.execute("select * from alerts").fetchall()
    alerts_of = defaultdict(list)
    for a in alerts:
        alerts_of[a["patient_id"]].append(a)
    red_at: dict[int, datetime] = {}
    for e in conn.execute("select alert_id, min(at) as at from alert_events"
                          " where severity = 'red' and event in ('opened', 'updated',"
                          " 'escalated') group by alert_id"):
        red_at[e["alert_id"]] = e["at"]
    answers = conn.execute("select patient_id, authored_at, answers from questionnaire_responses"
                           " where questionnaire = %s", (PRO_QUESTIONNAIRE,)).fetchall()
    result: dict[tuple[str, str | None], dict[str, Any]] = {}
    for label, lo_p, hi_p in periods:
        for group in [None, *sorted({p["team"] for p in patients})]:
            def member(pid: int, group: str | None = group) -> bool:
                return group is None or by_id[pid]["team"] == group

            figures: dict[str, Any] = {"patients": 0, "days": 0.0, "scheduled": 0, "taken": 0}
            for p in patients:
                stop = p["discharged_at"] or INFINITY
                if not (member(p["id"]) and p["created_at"] < min(hi_p, now) and stop > lo_p):
                    continue
                lo, hi = max(lo_p, p["created_at"]), min(hi_p, stop, now)
                figures["patients"] += 1
                # In UTC: Python subtracts two times of one zone by their wall clocks.
                figures["days"] += (hi.astimezone(UTC) - lo.astimezone(UTC)
                                    ).total_seconds() / 86400
                # Each deadline under the schedule in force at it.
                for v in versions[p["id"]]:
                    schedule = v["schedule"]
                    deadline = time.fromisoformat(schedule["deadline"])
                    day = lo.astimezone(TZ).date()
                    while day <= hi.astimezone(TZ).date():
                        due = _local(day, deadline)
                        if (DAYS[day.weekday()] in schedule["days"] and lo <= due < hi
                                and v["valid_from"] <= due < (v["valid_to"] or INFINITY)
                                and not any(s["starts_at"] <= due < s["ends_at"]
                                            for s in pauses[p["id"]])):
                            for kind in schedule["types"]:
                                figures["scheduled"] += 1
                                figures["taken"] += (p["id"], kind, day) in taken
                        day += timedelta(days=1)
            care, copd, warned = defaultdict(int), 0, 0
            for e in events:
                p = by_id[e["patient_id"]]
                if (member(p["id"]) and lo_p <= e["occurred_at"] < hi_p
                        and p["created_at"] <= e["occurred_at"]
                        < (p["discharged_at"] or INFINITY)):
                    care[e["kind"]] += 1
                    if e["kind"] == "admission" and e["reason"] == "copd_exacerbation":
                        copd += 1
                        warned += any(
                            a["severity"] in ("red", "yellow")
                            and e["occurred_at"] - timedelta(days=7) <= a["opened_at"]
                            <= e["occurred_at"] for a in alerts_of[e["patient_id"]])
            severity, disposition, red = defaultdict(int), defaultdict(int), []
            for a in alerts:
                if not (member(a["patient_id"]) and lo_p <= a["opened_at"] < hi_p):
                    continue
                severity[a["severity"]] += 1
                disposition[a["disposition"] or "none"] += 1
                if a["severity"] == "red" and (a["acknowledged_at"] or a["resolved_by"]):
                    handled = a["acknowledged_at"] or a["resolved_at"]
                    became = red_at.get(a["id"], a["opened_at"])
                    red.append(max(0.0, (handled.astimezone(UTC) - became.astimezone(UTC)
                                         ).total_seconds() / 60))
            mine = [q for q in answers if member(q["patient_id"])
                    and lo_p <= q["authored_at"] < hi_p]
            figures.update(care=care, copd=copd, warned=warned, severity=severity,
                           disposition=disposition, red=red,
                           pro_n=len(mine),
                           pro_yes=sum(q["answers"][PRO_QUESTION] is True for q in mine))
            result[label, group] = figures
    return result


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-3 * max(1.0, abs(b))


def _rate(count: float, denominator: float) -> float | None:
    return count / denominator if denominator else None


def check(figures: dict[str, Any], want: dict[str, Any]) -> None:
    years, months = want["days"] / 365.25, want["days"] / (365.25 / 12)
    assert figures["patients_monitored"] == want["patients"]
    assert _close(figures["patient_years"], years)
    for kind, name in (("admission", "admissions"), ("outpatient", "outpatient_visits"),
                       ("emergency", "emergency_visits")):
        assert figures[name] == want["care"][kind], name
    assert _close(figures["admissions_per_patient_year"],
                  _rate(want["care"]["admission"], years))
    assert figures["exacerbation_admissions"] == want["copd"]
    assert figures["exacerbation_admissions_warned"] == want["warned"]
    assert _close(figures["share_warned"], _rate(want["warned"], want["copd"]))
    assert _close(figures["outpatient_per_patient_year"],
                  _rate(want["care"]["outpatient"], years))
    assert figures["measurements_scheduled"] == want["scheduled"]
    assert figures["measurements_taken"] == want["taken"]
    assert _close(figures["adherence"], _rate(want["taken"], want["scheduled"]))
    assert figures["alerts"] == {s: want["severity"][s] for s in SEVERITIES}
    for s in SEVERITIES:
        assert _close(figures["alerts_per_patient_month"][s],
                      _rate(want["severity"][s], months) or 0.0)
    assert figures["dispositions"] == {d: want["disposition"][d] for d in DISPOSITIONS}
    assert figures["red_acknowledged"] == len(want["red"])
    if want["red"]:
        assert abs(figures["red_ack_p50_minutes"] - _percentile(want["red"], 0.5)) < 0.06
        assert abs(figures["red_ack_p90_minutes"] - _percentile(want["red"], 0.9)) < 0.06
    else:
        assert figures["red_ack_p50_minutes"] is None
    assert figures["pro_answers"] == want["pro_n"]
    assert figures["pro_managed"] == want["pro_yes"]
    assert _close(figures["pro_share_managed"], _rate(want["pro_yes"], want["pro_n"]))


def check_response(body: dict[str, Any], want: dict[tuple[str, str | None], dict[str, Any]],
                   teams: list[str], labels: list[str]) -> int:
    """Every figure of the municipality and of ``teams`` in every period against ``want``, and
    the suppression rule; the number of groups and periods shown (and so checked)."""
    groups = {g["team"]: g for g in body["groups"]}
    checked = 0
    for label in labels:
        sizes = {team: want[label, team]["patients"] for team in teams}
        # Below 5 is suppressed; with exactly one small team, the smallest shown one too (the
        # municipality's other teams are counted in too).
        all_sizes = {team: want[label, team]["patients"] for team in groups if team is not None}
        small = [t for t, n in all_sizes.items() if 0 < n < 5]
        shown = sorted((t for t, n in all_sizes.items() if n >= 5),
                       key=lambda t: (all_sizes[t], body_team_order(body, t)))
        for team in (None, *teams):
            group = groups.get(team)
            if group is None:  # a team with nothing in any period is not listed
                assert all(want[p, team]["patients"] == 0 for p in labels)
                continue
            figures = next(f for f in [*group["months"], group["reference"]]
                           if f["period"] == label)
            size = want[label, team]["patients"]
            hidden = size < 5 or (team is not None and len(small) == 1 and bool(shown)
                                  and shown[0] == team)
            assert figures["suppressed"] == hidden, (label, team, sizes)
            if hidden:
                assert {k for k, v in figures.items() if v is not None} == {"period",
                                                                              "suppressed"}
                continue
            check(figures, want[label, team])
            checked += 1
    return checked


def body_team_order(body: dict[str, Any], team: str) -> int:
    return [g["team"] for g in body["groups"]].index(team)


@pytest.fixture(scope="module")
def manager(client: TestClient, committed_conn_module: psycopg.Connection[Any],
            world: World) -> User:
    return make_user(client, committed_conn_module, role="manager", teams=world.teams[:1])


def test_every_figure_matches_the_rows_it_counts(
        client: TestClient, world: World, manager: User,
        committed_conn_module: psycopg.Connection[Any]) -> None:
    response = client.get("/api/v1/outcomes", headers=manager.headers,
                          params={"to": MONTHS[-1], "months": len(MONTHS),
                                  "reference_year": REFERENCE})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["months"] == MONTHS
    assert body["min_group"] == 5
    want = expected(committed_conn_module, datetime.now(UTC), periods_of(MONTHS, REFERENCE))
    groups = {g["team"]: g for g in body["groups"]}
    assert body["groups"][0]["team"] is None
    a = world.teams[0]
    checked = check_response(body, want, world.teams, [*MONTHS, str(REFERENCE)])
    assert checked >= 8, "the world shows too little to test"
    # Admissions both warned of and not, and admissions for other reasons, in the months.
    warned = sum(want[m, None]["warned"] for m in MONTHS)
    copd = sum(want[m, None]["copd"] for m in MONTHS)
    admissions = sum(want[m, None]["care"]["admission"] for m in MONTHS)
    assert 0 < warned < copd < admissions, (warned, copd, admissions)
    # The 12 months before enrolment, where known.
    known = [r for r in committed_conn_module.execute(
        "select p.admissions_before, t.name from patients p join teams t on t.id = p.team_id"
        " where p.admissions_before is not null and p.created_at < %s"
        " and coalesce(p.discharged_at, 'infinity') > %s",
        (datetime(2019, 7, 1, tzinfo=TZ), datetime(2019, 1, 1, tzinfo=TZ)))]
    team_a = [r["admissions_before"] for r in known if r["name"] == a]
    before = groups[a]["before_enrolment"]
    if len(team_a) >= 5:
        assert before["patients_known"] == len(team_a)
        assert _close(before["admissions_per_patient_year"], sum(team_a) / len(team_a))
    else:
        assert before["admissions_per_patient_year"] is None


def test_the_csv_holds_the_same_figures(client: TestClient, world: World,
                                        manager: User) -> None:
    params = {"to": MONTHS[-1], "months": len(MONTHS), "reference_year": REFERENCE}
    body = client.get("/api/v1/outcomes", headers=manager.headers, params=params).json()
    response = client.get("/api/v1/outcomes.csv", headers=manager.headers, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == len(body["groups"]) * (len(MONTHS) + 1)
    group = next(g for g in body["groups"] if g["team"] == world.teams[0])
    for figures in [*group["months"], group["reference"]]:
        row = next(r for r in rows if r["team"] == world.teams[0]
                   and r["period"] == figures["period"])
        assert row["admissions"] == ("" if figures["admissions"] is None
                                     else str(figures["admissions"]))
        assert row["alerts_red"] == ("" if figures["alerts"] is None
                                     else str(figures["alerts"]["red"]))


def test_only_managers_and_admins_see_outcomes(client: TestClient, world: World,
                                              committed_conn_module: psycopg.Connection[Any]
                                              ) -> None:
    for role, status in (("nurse", 403), ("clinician", 403), ("admin", 200)):
        user = make_user(client, committed_conn_module, role=role, teams=world.teams[:1])
        assert client.get("/api/v1/outcomes", headers=user.headers).status_code == status, role


def _fill(path: str, world: World) -> str:
    values = {"patient_id": world.patient_ids[0], "alert_id": world.alert_ids[0],
              "pause_id": 1, "consent_id": 1, "device_id": "dev", "user_id": 1, "team_id": 1,
              "pending_id": 1}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), path)


def test_no_endpoint_a_manager_can_call_names_a_patient(
        client: TestClient, world: World, manager: User) -> None:
    """Every GET in the API document, with this world's patients and alerts as parameters:
    nothing answered to a manager names one of them or carries a patient's id field."""
    document = client.get("/openapi.json").json()
    answered = []
    for path, operations in document["paths"].items():
        if "get" not in operations or path.endswith("/stream"):
            continue
        url = _fill(path, world)
        for params in ({}, {"patient_id": world.patient_ids[0]}):
            response = client.get(url, headers=manager.headers, params=params)
            text = response.text
            assert not any(name in text for name in world.names), (path, text[:300])
            if response.headers.get("content-type", "").startswith("application/json"):
                keys = set(re.findall(r'"(\w+)":', json.dumps(response.json())))
                assert not keys & {"patient_id", "contact_person", "schedule"}, (path, keys)
            answered.append((path, response.status_code))
    assert ("/api/v1/outcomes", 200) in answered
    assert len(answered) > 20
