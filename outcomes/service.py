"""The outcome figures per team and for the whole municipality, by local calendar month and
over a reference year, with small groups suppressed (docs/outcomes.md). Aggregates only: no
figure is computed from fewer than ``min_group`` monitored patients, and nothing here names or
numbers a patient."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg import Connection

from alerts.reports import DAYS_PER_MONTH, WARNING_DAYS
from core import errors
from core.pro import PRO_QUESTION, PRO_QUESTIONNAIRE
from outcomes import repository
from outcomes.schemas import (
    DISPOSITIONS,
    SEVERITIES,
    BeforeEnrolment,
    Figures,
    GroupOutcomes,
    OutcomesOut,
)

YEAR_DAYS = 365.25
MAX_MONTHS = 60
ALL = None
"""The municipality's key among the groups (the teams are keyed by id)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    label: str
    starts: datetime
    ends: datetime


def month_periods(first: date, last: date, tz: ZoneInfo) -> list[Period]:
    """Every local calendar month from ``first``'s to ``last``'s."""
    periods = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        following = (year + month // 12, month % 12 + 1)
        periods.append(Period(label=f"{year:04d}-{month:02d}",
                              starts=datetime(year, month, 1, tzinfo=tz),
                              ends=datetime(*following, 1, tzinfo=tz)))
        year, month = following
    return periods


def year_period(year: int, tz: ZoneInfo) -> Period:
    return Period(label=f"{year:04d}", starts=datetime(year, 1, 1, tzinfo=tz),
                  ends=datetime(year + 1, 1, 1, tzinfo=tz))


def _rate(count: float, denominator: float) -> float | None:
    return round(count / denominator, 4) if denominator > 0 else None


def outcomes(conn: Connection[Any], *, first: date, last: date, reference_year: int,
             min_group: int, tz: ZoneInfo, now: datetime) -> OutcomesOut:
    """``first`` and ``last`` name months (their day is ignored)."""
    if (last.year, last.month) < (first.year, first.month):
        raise errors.InvalidRange("the last month is before the first")
    months = month_periods(first, last, tz)
    if len(months) > MAX_MONTHS:
        raise errors.RangeTooLong(f"at most {MAX_MONTHS} months at a time")
    reference = year_period(reference_year, tz)
    periods = [*months, reference]
    span: dict[str, Any] = {"labels": [p.label for p in periods],
                            "starts": [p.starts for p in periods],
                            "ends": [p.ends for p in periods], "now": now}
    cells: dict[tuple[str, int | None], dict[str, Any]] = defaultdict(lambda: {
        "patients": 0, "days": 0.0, "care": defaultdict(int), "copd": 0, "warned": 0,
        "scheduled": 0, "taken": 0,
        "severity": defaultdict(int), "disposition": defaultdict(int), "red_n": 0,
        "p50": None, "p90": None, "pro_n": 0, "pro_yes": 0})
    for r in repository.monitored(conn, **span):
        cells[r["label"], r["team_id"]].update(patients=r["patients"], days=r["days"])
    for r in repository.care_events(conn, **span):
        cells[r["label"], r["team_id"]]["care"][r["kind"]] += r["n"]
    for r in repository.exacerbation_admissions(conn, warning_days=WARNING_DAYS, **span):
        cells[r["label"], r["team_id"]].update(copd=r["n"], warned=r["warned"])
    for r in repository.adherence(conn, tz=str(tz), **span):
        cells[r["label"], r["team_id"]].update(scheduled=r["scheduled"], taken=r["taken"])
    for r in repository.alerts(conn, **span):
        cell = cells[r["label"], r["team_id"]]
        cell["severity"][r["severity"]] += r["n"]
        cell["disposition"][r["disposition"]] += r["n"]
    for r in repository.red_handling(conn, **span):
        cells[r["label"], r["team_id"]].update(red_n=r["n"], p50=r["p50"], p90=r["p90"])
    for r in repository.pro(conn, questionnaire=PRO_QUESTIONNAIRE, question=PRO_QUESTION,
                              **span):
        cells[r["label"], r["team_id"]].update(pro_n=r["n"], pro_yes=r["yes"])

    names = repository.teams(conn)
    team_ids = sorted({team for (_, team) in cells if team is not None},
                      key=lambda t: names[t])
    suppressed = {(p.label, team): _suppressed(cells, p.label, team, team_ids, min_group)
                  for p in periods for team in [ALL, *team_ids]}
    before = {r["team_id"]: r for r in repository.before_enrolment(
        conn, starts=months[0].starts, ends=months[-1].ends, now=now)}
    groups = [GroupOutcomes(
        team=None if team is ALL else names[team],
        months=[_figures(p.label, cells.get((p.label, team)), suppressed[p.label, team])
                for p in months],
        reference=_figures(reference.label, cells.get((reference.label, team)),
                           suppressed[reference.label, team]),
        before_enrolment=_before(before.get(team), min_group))
        for team in [ALL, *team_ids]]
    return OutcomesOut(months=[p.label for p in months], reference_year=reference_year,
                       min_group=min_group, groups=groups)


def _suppressed(cells: dict[tuple[str, int | None], dict[str, Any]], label: str,
                team: int | None, team_ids: list[int], min_group: int) -> bool:
    """A group below ``min_group`` is suppressed. So is, when exactly one team of the period is
    suppressed, the smallest team shown: else that one team's figures would be the
    municipality's less the others'."""
    def size(t: int | None) -> int:
        cell = cells.get((label, t))
        return int(cell["patients"]) if cell else 0

    if size(team) < min_group:
        return True
    if team is ALL:
        return False
    present = [t for t in team_ids if size(t) > 0]
    small = [t for t in present if size(t) < min_group]
    shown = sorted((t for t in present if size(t) >= min_group),
                   key=lambda t: (size(t), team_ids.index(t)))
    return len(small) == 1 and bool(shown) and shown[0] == team


def _figures(label: str, cell: dict[str, Any] | None, suppressed: bool) -> Figures:
    if cell is None or suppressed:
        return Figures(period=label, suppressed=suppressed, **dict.fromkeys(
            set(Figures.model_fields) - {"period", "suppressed"}))
    years = cell["days"] / YEAR_DAYS
    patient_months = cell["days"] / DAYS_PER_MONTH
    care = cell["care"]
    return Figures(
        period=label, suppressed=False, patients_monitored=cell["patients"],
        patient_years=round(years, 4),
        admissions=care["admission"], admissions_per_patient_year=_rate(care["admission"], years),
        outpatient_visits=care["outpatient"],
        outpatient_per_patient_year=_rate(care["outpatient"], years),
        emergency_visits=care["emergency"],
        exacerbation_admissions=cell["copd"], exacerbation_admissions_warned=cell["warned"],
        share_warned=_rate(cell["warned"], cell["copd"]),
        measurements_scheduled=cell["scheduled"], measurements_taken=cell["taken"],
        adherence=_rate(cell["taken"], cell["scheduled"]),
        alerts={s: cell["severity"][s] for s in SEVERITIES},
        alerts_per_patient_month={s: _rate(cell["severity"][s], patient_months) or 0.0
                                  for s in SEVERITIES},
        dispositions={d: cell["disposition"][d] for d in DISPOSITIONS},
        red_acknowledged=cell["red_n"],
        red_ack_p50_minutes=None if cell["p50"] is None else round(cell["p50"], 1),
        red_ack_p90_minutes=None if cell["p90"] is None else round(cell["p90"], 1),
        pro_answers=cell["pro_n"], pro_managed=cell["pro_yes"],
        pro_share_managed=_rate(cell["pro_yes"], cell["pro_n"]))


def _before(row: dict[str, Any] | None, min_group: int) -> BeforeEnrolment:
    if row is None or row["known"] < min_group:
        return BeforeEnrolment(suppressed=row is not None, patients_known=None, admissions=None,
                               admissions_per_patient_year=None)
    # Each known patient contributes the 12 months (one year) before her enrolment.
    return BeforeEnrolment(suppressed=False, patients_known=row["known"],
                           admissions=row["admissions"],
                           admissions_per_patient_year=_rate(row["admissions"], row["known"]))


CSV_COLUMNS = ("team", "period", "suppressed", "patients_monitored", "patient_years",
               "admissions", "admissions_per_patient_year", "outpatient_visits",
               "outpatient_per_patient_year", "emergency_visits", "exacerbation_admissions",
               "exacerbation_admissions_warned", "share_warned", "measurements_scheduled",
               "measurements_taken", "adherence",
               *(f"alerts_{s}" for s in SEVERITIES),
               *(f"alerts_{s}_per_patient_month" for s in SEVERITIES),
               *(f"disposition_{d}" for d in DISPOSITIONS),
               "red_acknowledged", "red_ack_p50_minutes", "red_ack_p90_minutes",
               "pro_answers", "pro_managed", "pro_share_managed")


def to_csv(result: OutcomesOut) -> str:
    """One row per group and period (the months, then the reference year); the municipality's
    team column is empty. Suppressed figures are empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for group in result.groups:
        for figures in [*group.months, group.reference]:
            flat = figures.model_dump()
            for key, prefix, suffix in (("alerts", "alerts_", ""),
                                        ("alerts_per_patient_month", "alerts_",
                                         "_per_patient_month"),
                                        ("dispositions", "disposition_", "")):
                for name, value in (flat.pop(key) or {}).items():
                    flat[f"{prefix}{name}{suffix}"] = value
            flat["team"] = group.team or ""
            writer.writerow(["" if flat.get(c) is None else flat[c] for c in CSV_COLUMNS])
    return out.getvalue()
