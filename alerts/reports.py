"""Reports on the alerts themselves, for the clinician who owns the thresholds: what the nurses
did about them (dispositions: the share that led to an action, per rule and per patient), and the
alert burden (patients ranked by alerts per week, with their pending personal-limit proposal).
Team-scoped; never commits."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import Connection

from alerts import personalisation, repository
from alerts.schemas import (
    ACTIONS,
    AlertOutcomesOut,
    BurdenRow,
    OutcomeCounts,
    PatientOutcome,
    RuleOutcome,
)
from core.access import Viewer


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


def alert_outcomes(conn: Connection[Any], viewer: Viewer, *, since: datetime) -> AlertOutcomesOut:
    """Alerts opened since ``since``, per (rule, type) and per patient: how many, how many have a
    disposition, and the share of those that led to an action."""
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
    return AlertOutcomesOut(since=since, by_rule=by_rule, by_patient=by_patient)


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
