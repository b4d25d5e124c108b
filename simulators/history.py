"""A plausible care history for the outcomes demo (issue #19): teams of simulated patients
enrolled over the past months, their readings (the cohort's), the alerts a nurse handled, the
acute admissions of their severe exacerbations (with the discharge and the pause between), the
emergency and outpatient visits, the monthly answers to the patient-reported question and, for
most, the admissions of the year before enrolment. ``kol-sim history`` writes it once
(``simulators.repository``); every number is in ``parameters.OutcomeParameters``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from core.measurement_types import MEASUREMENT_TYPES
from simulators.cohort import generate_cohort
from simulators.parameters import DEFAULT_OUTCOMES, OutcomeParameters

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TYPE_NAMES = {t.index: name for name, t in MEASUREMENT_TYPES.items()}
HOSPITALS = ("Hvidovre Hospital", "Bispebjerg Hospital", "Herlev Hospital")


@dataclass(slots=True, kw_only=True)
class PatientHistory:
    team: str
    name: str
    created_at: datetime
    discharged_at: datetime
    schedule: dict[str, Any]
    admissions_before: int | None
    readings: list[tuple[str, datetime, float]] = field(default_factory=list)
    care_events: list[dict[str, Any]] = field(default_factory=list)
    """Each: kind, occurred_at, hospital, reason, and for an admission ``alert`` (the index of
    its alert in ``alerts``) and ``until`` (its discharge: the pause's end)."""
    alerts: list[dict[str, Any]] = field(default_factory=list)
    """Each: severity, type, opened_at, acknowledged_at, resolved_at, disposition."""
    answers: list[tuple[datetime, bool]] = field(default_factory=list)


def _utc(moment: np.datetime64) -> datetime:
    return datetime.fromtimestamp(moment.astype("datetime64[us]").astype(np.int64) / 1e6, UTC)


def generate_history(*, teams: list[str], patients_per_team: int, months: int, seed: int,
                     now: datetime, pro_interval_days: int = 30,
                     params: OutcomeParameters = DEFAULT_OUTCOMES) -> list[PatientHistory]:
    """Patients enrolled over the first two thirds of ``months`` before ``now``; each stays
    monitored until ``now`` (then discharged: the live demo fleet takes over from there)."""
    days = int(months * 30.44)
    start = now - timedelta(days=days)
    n = patients_per_team * len(teams)
    cohort = generate_cohort(n_patients=n, days=days, seed=seed, start=start)
    rng = np.random.default_rng(seed + 1)
    histories = []
    for i in range(n):
        created = start + timedelta(days=float(rng.uniform(0, days * 2 / 3)),
                                    hours=float(rng.uniform(8, 15)))
        schedule_days = [d for d, on in zip(WEEKDAYS, cohort.patients.schedule[i], strict=True)
                         if on]
        rate = float(cohort.patients.exacerbation_rate[i])
        known = rng.random() < params.history_known_share
        severe_rate = rate / 3 * params.before_rate_factor
        history = PatientHistory(
            team=teams[i % len(teams)], name=f"Historik {i + 1:03d}", created_at=created,
            discharged_at=now, schedule={"days": schedule_days, "deadline": "12:00",
                                         "types": ["spo2", "pulse", "weight"]},
            admissions_before=int(rng.poisson(severe_rate)) if known else None)
        stays = _episodes(history, cohort, i, rng, params)
        _readings(history, cohort, i, stays)
        _noise_alerts(history, rng, params)
        _false_alerts(history, rng, params, stays)
        _outpatient(history, rng, params)
        _answers(history, rng, params, pro_interval_days)
        histories.append(history)
    return histories


def _episodes(history: PatientHistory, cohort: Any, i: int, rng: np.random.Generator,
              params: OutcomeParameters) -> list[tuple[datetime, datetime]]:
    """Alerts and hospital contacts from the patient's exacerbations while monitored (a share
    of them caught by no alert); the admissions' [start, end) are returned (no readings while she
    is in hospital)."""
    episodes = cohort.episodes
    stays = []
    for k in np.nonzero(episodes.patient_index == i)[0]:
        peak = _utc(episodes.onset[k]) + timedelta(days=float(episodes.ramp_days[k]))
        if not history.created_at <= peak < history.discharged_at - timedelta(days=1):
            continue
        severe = float(episodes.spo2_drop[k]) >= params.severe_spo2_drop
        caught = rng.random() >= params.missed_share
        opened = peak - timedelta(hours=float(rng.uniform(2, 20)))
        ack = opened + _ack_delay(rng, params)
        hospital = str(rng.choice(HOSPITALS))
        if severe:
            admission: dict[str, Any] = {"kind": "admission", "hospital": hospital,
                                         "reason": "copd_exacerbation"}
            if caught:
                history.alerts.append({"severity": "red", "type": "spo2", "opened_at": opened,
                                       "acknowledged_at": ack, "resolved_at": ack,
                                       "disposition": "admitted"})
                admission["alert"] = len(history.alerts) - 1
            admitted = ack + timedelta(hours=float(rng.uniform(1, params.admission_lead_hours_max)))
            discharged = admitted + timedelta(days=int(rng.integers(
                params.admission_days_min, params.admission_days_max + 1)))
            discharged = min(discharged, history.discharged_at - timedelta(hours=1))
            history.care_events.append({**admission, "occurred_at": admitted,
                                        "until": discharged})
            history.care_events.append({"kind": "discharge", "occurred_at": discharged,
                                        "hospital": hospital, "reason": "copd_exacerbation"})
            stays.append((admitted, discharged))
        elif caught:
            emergency = rng.random() < params.emergency_share
            history.alerts.append({
                "severity": "yellow", "type": "spo2", "opened_at": opened,
                "acknowledged_at": ack, "resolved_at": ack + timedelta(hours=4),
                "disposition": "gp_contacted" if emergency else str(rng.choice(
                    ["advice_by_phone", "home_visit", "gp_contacted"]))})
            if emergency:
                history.care_events.append({"kind": "emergency", "occurred_at": ack + timedelta(
                    hours=3), "hospital": hospital, "reason": "copd_exacerbation"})
    return stays


def _readings(history: PatientHistory, cohort: Any, i: int,
              stays: list[tuple[datetime, datetime]]) -> None:
    readings = cohort.readings
    rows = np.nonzero(readings.patient_index == i)[0]
    for r in rows:
        at = _utc(readings.measured_at[r])
        if not history.created_at <= at < history.discharged_at:
            continue
        if any(lo <= at < hi for lo, hi in stays):
            continue
        history.readings.append((_TYPE_NAMES[int(readings.type_index[r])], at,
                                 float(readings.value[r])))


def _moments(history: PatientHistory, rng: np.random.Generator, per_month: float
             ) -> Iterator[datetime]:
    """Random moments of her monitoring (not in its last day), ``per_month`` a patient-month on
    average (a Poisson count, each moment drawn when it is taken)."""
    span = (history.discharged_at - history.created_at).total_seconds()
    for _ in range(rng.poisson(per_month * span / (30.44 * 86400))):
        yield history.created_at + timedelta(seconds=float(rng.uniform(0, span - 86400)))


def _ack_delay(rng: np.random.Generator, params: OutcomeParameters) -> timedelta:
    """How long a nurse takes to acknowledge an alert."""
    return timedelta(minutes=float(rng.lognormal(np.log(params.ack_minutes_median),
                                                 params.ack_minutes_sigma)))


def _noise_alerts(history: PatientHistory, rng: np.random.Generator,
                  params: OutcomeParameters) -> None:
    for opened in _moments(history, rng, params.noise_alerts_per_month):
        handled = opened + timedelta(hours=float(rng.uniform(1, 30)))
        history.alerts.append({"severity": str(rng.choice(["green", "blue"])), "type": "weight",
                               "opened_at": opened, "acknowledged_at": handled,
                               "resolved_at": handled,
                               "disposition": str(rng.choice(["no_action_needed",
                                                              "measurement_error"]))})


def _false_alerts(history: PatientHistory, rng: np.random.Generator, params: OutcomeParameters,
                  stays: list[tuple[datetime, datetime]]) -> None:
    """Red and yellow alerts outside any exacerbation that the nurse judged to need no action
    (none while she is in hospital: no readings then)."""
    for opened in _moments(history, rng, params.false_alerts_per_month):
        if any(lo <= opened < hi for lo, hi in stays):
            continue
        handled = opened + _ack_delay(rng, params)
        history.alerts.append({
            "severity": "red" if rng.random() < params.false_red_share else "yellow",
            "type": str(rng.choice(["spo2", "pulse"])), "opened_at": opened,
            "acknowledged_at": handled, "resolved_at": handled,
            "disposition": ("measurement_error"
                            if rng.random() < params.false_measurement_error_share
                            else "no_action_needed")})


def _outpatient(history: PatientHistory, rng: np.random.Generator,
                params: OutcomeParameters) -> None:
    span = (history.discharged_at - history.created_at).total_seconds()
    for _ in range(rng.poisson(params.outpatient_per_year * span / (365.25 * 86400))):
        history.care_events.append({
            "kind": "outpatient", "hospital": str(rng.choice(HOSPITALS)),
            "reason": "planned_control", "occurred_at": history.created_at + timedelta(
                seconds=float(rng.uniform(0, span)))})


def _answers(history: PatientHistory, rng: np.random.Generator, params: OutcomeParameters,
             interval_days: int) -> None:
    """Every ``interval_days`` from enrolment: yes unless an unplanned hospital contact fell in
    the month before (with some noise)."""
    asked = history.created_at + timedelta(days=interval_days, hours=2)
    while asked < history.discharged_at:
        contact = any(asked - timedelta(days=30) <= e["occurred_at"] < asked
                      and e["kind"] in ("admission", "emergency")
                      for e in history.care_events)
        answer = (not contact) != (rng.random() < params.pro_noise)
        history.answers.append((asked, answer))
        asked += timedelta(days=interval_days)

