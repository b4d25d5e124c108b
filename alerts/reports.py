"""Reports on the alerts themselves, for the clinician who owns the thresholds: what the nurses
did about them (dispositions: the share that led to an action, per rule and per patient), whether
they warned of the admissions for an exacerbation and how many episodes the nurses judged needed
no action (the alert-quality measures of ``benchmarks/alert_quality.py`` on the team's own
patients), and the alert burden (patients ranked by alerts per week, with their pending
personal-limit proposal). Team-scoped; never commits."""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

from psycopg import Connection

from alerts import personalisation, repository
from alerts.schemas import (
    ACTIONS,
    AdmissionWarnings,
    AlertEpisodes,
    AlertOutcomesOut,
    BurdenRow,
    OutcomeCounts,
    PatientOutcome,
    RuleOutcome,
)
from core.access import Viewer

WARNING_DAYS = 7
"""An alert opened in the days before an admission (the benchmark: before an exacerbation's
onset) warned of it."""
EPISODE_GAP_DAYS = 3
"""Alerts of one patient with no longer gap are one episode: the nurse handles them as one case."""
DAYS_PER_MONTH = 365.25 / 12
"""A patient-month, here and in the outcome figures."""


def _counts(rows: list[dict[str, Any]]) -> OutcomeCounts:
    by: dict[str, int] = defaultdict(int)
    total = 0
    for r in rows:
        total += r["n"]
        if r["disposition"] is not None:
            by[r["disposition"]] += r["n"]
    with_disposition = sum(by.values())
    actioned = sum(n for d, n in by.items() if d in ACTIONS)
    return OutcomeCounts(
        alerts=total, with_disposition=with_disposition, actioned=actioned,
        share_actioned=round(actioned / with_disposition, 4) if with_disposition else None,
        by_disposition=dict(sorted(by.items())))


def alert_outcomes(conn: Connection[Any], viewer: Viewer, *, since: datetime,
                   now: datetime | None = None) -> AlertOutcomesOut:
    """Alerts opened since ``since``, per (rule, type) and per patient: how many, how many have a
    disposition, and the share of those that led to an action; the admissions for an
    exacerbation they warned of, and the episodes the nurses judged needed no action."""
    now = now or datetime.now(UTC)
    warnings = repository.warning_alerts(conn, viewer,
                                         since=_before(since, timedelta(days=WARNING_DAYS)))
    admissions = repository.exacerbation_admissions(conn, viewer, since=since)
    admitted = {pid: [r["occurred_at"] for r in g]
                for pid, g in groupby(admissions, key=lambda r: r["patient_id"])}
    rows = repository.alert_outcome_counts(conn, viewer, since=since)
    per_rule: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    per_patient: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:  # one row per (rule, type, patient, disposition) group
        per_rule[(r["rule"], r["type"])].append(r)
        per_patient[(r["patient_id"], r["display_name"])].append(r)
    by_rule = [RuleOutcome(rule=rule, type=type_, **_counts(g).model_dump())
               for (rule, type_), g in sorted(per_rule.items())]
    by_patient = [PatientOutcome(patient_id=pid, display_name=name, **_counts(g).model_dump())
                  for (pid, name), g in sorted(per_patient.items())]
    return AlertOutcomesOut(
        since=since, by_rule=by_rule, by_patient=by_patient,
        admissions=_admission_warnings(admitted, warnings),
        episodes=_episodes([w for w in warnings if w["opened_at"] >= since], admitted,
                           repository.monitored_days(conn, viewer, since=since, now=now)))


def _admission_warnings(admitted: dict[int, list[datetime]], warnings: list[dict[str, Any]]
                        ) -> AdmissionWarnings:
    """Each admission warned of by her first red or yellow alert in the window before it."""
    opened = {pid: [r["opened_at"] for r in g]
              for pid, g in groupby(warnings, key=lambda r: r["patient_id"])}
    window = timedelta(days=WARNING_DAYS)
    total, leads = 0, []
    for pid, times in admitted.items():
        alerts = opened.get(pid, [])
        for at in times:
            total += 1
            first = bisect_left(alerts, _before(at, window))
            if first < len(alerts) and alerts[first] <= at:
                leads.append((at - alerts[first]) / timedelta(days=1))
    return AdmissionWarnings(
        admissions=total, warned=len(leads),
        share_warned=round(len(leads) / total, 4) if total else None,
        median_lead_days=round(statistics.median(leads), 2) if leads else None)


def _before(moment: datetime, span: timedelta) -> datetime:
    """``moment - span``, or the first representable moment for one closer to it (a report
    ``since`` year 1, an admission recorded at the start of time)."""
    try:
        return moment - span
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


def _episodes(warnings: list[dict[str, Any]], admitted: dict[int, list[datetime]],
              monitored_days: float) -> AlertEpisodes:
    """Episodes of the alerts (in patient, time order) and those judged to need no action."""
    gap, window = timedelta(days=EPISODE_GAP_DAYS), timedelta(days=WARNING_DAYS)
    episodes = no_action = 0
    for pid, group in groupby(warnings, key=lambda r: r["patient_id"]):
        admissions = admitted.get(pid, [])
        runs: list[list[dict[str, Any]]] = []
        for alert in group:
            if not runs or alert["opened_at"] - runs[-1][-1]["opened_at"] > gap:
                runs.append([])
            runs[-1].append(alert)
        for run in runs:
            start = run[0]["opened_at"]
            judged = all(a["disposition"] is not None and a["disposition"] not in ACTIONS
                         for a in run)
            followed = bisect_right(admissions, start + window) > bisect_left(admissions, start)
            no_action += judged and not followed
        episodes += len(runs)
    months = monitored_days / DAYS_PER_MONTH
    return AlertEpisodes(
        episodes=episodes, judged_no_action=no_action, patient_months=round(months, 2),
        judged_no_action_per_patient_month=round(no_action / months, 3) if months > 0 else None)


def alert_burden(conn: Connection[Any], viewer: Viewer, *, days: int = 30, limit: int = 50,
                 now: datetime | None = None) -> list[BurdenRow]:
    """Active patients ranked by red, yellow and blue alerts per week over the last ``days``
    days, each with the changes her personal limits would make now."""
    now = now or datetime.now(UTC)
    rows = repository.alert_burden(conn, viewer, since=now - timedelta(days=days), limit=limit)
    pending = personalisation.pending_changes(conn, viewer, [r["patient_id"] for r in rows],
                                              now=now)
    return [BurdenRow(patient_id=r["patient_id"], display_name=r["display_name"],
                      alerts=r["alerts"], alerts_per_week=round(r["alerts"] * 7 / days, 2),
                      pending_proposal=pending.get(r["patient_id"], []))
            for r in rows]
