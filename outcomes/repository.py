"""SQL of the outcome figures: counts per period and team, and for all teams together
(``grouping sets``; ``team_id`` null is the municipality).

These are the only reads of patient data that do not compose ``core.access.visible_patients``:
they cross every team by design, return counts only (never a patient's id, name or row) and
are called only for managers and admins (api.routes.outcomes), with small groups suppressed by
the service."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection

# The periods: parallel arrays of labels and [start, end) bounds.
_PERIODS = ("with per as (select * from unnest(%(labels)s::text[], %(starts)s::timestamptz[],"
            " %(ends)s::timestamptz[]) as per(label, starts, ends))")
# A patient's monitoring overlaps the period (enrolment to discharge, until now).
_MONITORED = ("join patients p on p.created_at < least(per.ends, %(now)s)"
              " and coalesce(p.discharged_at, 'infinity') > per.starts")
_GROUPS = " group by grouping sets ((per.label, p.team_id), (per.label))"


def _params(labels: list[str], starts: list[datetime], ends: list[datetime], now: datetime,
            **more: Any) -> dict[str, Any]:
    return {"labels": labels, "starts": starts, "ends": ends, "now": now, **more}


def teams(conn: Connection[Any]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in conn.execute("select id, name from teams")}


def monitored(conn: Connection[Any], **periods: Any) -> list[dict[str, Any]]:
    """Patients monitored in the period and their monitored days in it."""
    return conn.execute(
        _PERIODS + " select per.label, p.team_id, count(*) as patients,"
        " sum(extract(epoch from least(per.ends, coalesce(p.discharged_at, 'infinity'), %(now)s)"
        "     - greatest(per.starts, p.created_at)) / 86400.0)::float8 as days"
        " from per " + _MONITORED + _GROUPS, _params(**periods)).fetchall()


def care_events(conn: Connection[Any], **periods: Any) -> list[dict[str, Any]]:
    """Standing (not withdrawn) care events in the period while the patient was monitored, by
    kind."""
    return conn.execute(
        _PERIODS + " select per.label, p.team_id, e.kind, count(*) as n"
        " from per join care_events e on e.occurred_at >= per.starts"
        "   and e.occurred_at < per.ends and e.withdrawn_at is null"
        " join patients p on p.id = e.patient_id and e.occurred_at >= p.created_at"
        "   and e.occurred_at < coalesce(p.discharged_at, 'infinity')"
        " group by grouping sets ((per.label, p.team_id, e.kind), (per.label, e.kind))",
        _params(**periods)).fetchall()


def exacerbation_admissions(conn: Connection[Any], *, warning_days: int, **periods: Any
                            ) -> list[dict[str, Any]]:
    """Standing admissions for a COPD exacerbation in the period while the patient was monitored,
    and those with a red or yellow alert of hers opened in the ``warning_days`` days before."""
    return conn.execute(
        _PERIODS + " select per.label, p.team_id, count(*) as n,"
        " count(*) filter (where exists (select from alerts a where a.patient_id = e.patient_id"
        "   and a.severity in ('red', 'yellow') and a.opened_at <= e.occurred_at"
        "   and a.opened_at >= e.occurred_at - make_interval(days => %(warning_days)s)))"
        "   as warned"
        " from per join care_events e on e.occurred_at >= per.starts"
        "   and e.occurred_at < per.ends and e.withdrawn_at is null and e.kind = 'admission'"
        "   and e.reason = 'copd_exacerbation'"
        " join patients p on p.id = e.patient_id and e.occurred_at >= p.created_at"
        "   and e.occurred_at < coalesce(p.discharged_at, 'infinity')" + _GROUPS,
        _params(warning_days=warning_days, **periods)).fetchall()


def adherence(conn: Connection[Any], *, tz: str, **periods: Any) -> list[dict[str, Any]]:
    """Scheduled measurements and those taken: each (local day, type) of her schedule whose
    deadline falls in the period while she was monitored and not paused, under the schedule in
    force at that deadline (``schedule_versions``); taken if a reading of that type was
    measured that local day.

    The readings are read once, as the set of (patient, type, local day) over the whole span,
    and joined: a probe per scheduled measurement would search every chunk of the hypertable."""
    return conn.execute(
        _PERIODS + ", spans as (select per.label, p.id as patient_id, p.team_id,"
        "   greatest(per.starts, p.created_at) as lo,"
        "   least(per.ends, coalesce(p.discharged_at, 'infinity'), %(now)s) as hi"
        "   from per " + _MONITORED + "),"
        # Her monitored span in the period, cut where her schedule changed.
        " versions as (select s.label, s.patient_id, s.team_id, v.schedule,"
        "   greatest(s.lo, v.valid_from) as lo,"
        "   least(s.hi, coalesce(v.valid_to, 'infinity')) as hi"
        "   from spans s join schedule_versions v on v.patient_id = s.patient_id"
        "   and v.valid_from < s.hi and coalesce(v.valid_to, 'infinity') > s.lo),"
        " due as (select s.label, s.patient_id, s.team_id, d::date as day, t.type"
        "   from versions s cross join lateral generate_series((s.lo at time zone %(tz)s)::date,"
        "     (s.hi at time zone %(tz)s)::date, interval '1 day') d"
        "   cross join jsonb_array_elements_text(s.schedule -> 'types') t(type)"
        "   cross join lateral (select ((d::date + (s.schedule ->> 'deadline')::time)"
        "     at time zone %(tz)s) as at) due_at"
        "   where due_at.at >= s.lo and due_at.at < s.hi"
        "   and (s.schedule -> 'days') ? to_char(d::date, 'dy')"
        "   and not exists (select from patient_pauses z where z.patient_id = s.patient_id"
        "     and z.starts_at <= due_at.at and z.ends_at > due_at.at)),"
        " taken as (select distinct r.patient_id, r.type,"
        "   (r.measured_at at time zone %(tz)s)::date as day from readings r"
        "   where r.measured_at >= %(first)s and r.measured_at < %(last)s"
        "   and r.patient_id in (select patient_id from spans))"
        " select due.label, due.team_id, count(*) as scheduled,"
        " count(taken.day) as taken from due left join taken"
        "   on taken.patient_id = due.patient_id and taken.type = due.type"
        "   and taken.day = due.day"
        " group by grouping sets ((due.label, due.team_id), (due.label))",
        _params(tz=tz, first=min(periods["starts"]) - timedelta(days=1),
                last=max(periods["ends"]) + timedelta(days=1), **periods)).fetchall()


def alerts(conn: Connection[Any], **periods: Any) -> list[dict[str, Any]]:
    """Alerts opened in the period by severity and disposition."""
    return conn.execute(
        _PERIODS + " select per.label, p.team_id, a.severity,"
        " coalesce(a.disposition, 'none') as disposition, count(*) as n"
        " from per join alerts a on a.opened_at >= per.starts and a.opened_at < per.ends"
        " join patients p on p.id = a.patient_id"
        " group by grouping sets ((per.label, p.team_id, a.severity, a.disposition),"
        "                         (per.label, a.severity, a.disposition))",
        _params(**periods)).fetchall()


def red_handling(conn: Connection[Any], **periods: Any) -> list[dict[str, Any]]:
    """Red alerts opened in the period that a person acknowledged (or resolved without
    acknowledging): the minutes from the alert turning red to that step, p50 and p90."""
    return conn.execute(
        _PERIODS + ", red as (select per.label, p.team_id, greatest(0, extract(epoch from"
        "   coalesce(a.acknowledged_at, a.resolved_at) - coalesce((select min(e.at)"
        "     from alert_events e where e.alert_id = a.id and e.severity = 'red'"
        "     and e.event in ('opened', 'updated', 'escalated')), a.opened_at)) / 60.0)"
        "   as minutes"
        "   from per join alerts a on a.opened_at >= per.starts and a.opened_at < per.ends"
        "   and a.severity = 'red'"
        "   and (a.acknowledged_at is not null or a.resolved_by is not null)"
        "   join patients p on p.id = a.patient_id)"
        " select label, team_id, count(*) as n,"
        " percentile_cont(0.5) within group (order by minutes)::float8 as p50,"
        " percentile_cont(0.9) within group (order by minutes)::float8 as p90"
        " from red group by grouping sets ((label, team_id), (label))",
        _params(**periods)).fetchall()


def pro(conn: Connection[Any], *, questionnaire: str, question: str, **periods: Any
        ) -> list[dict[str, Any]]:
    """Responses to ``questionnaire`` given in the period that answer ``question``, and how many
    said yes."""
    return conn.execute(
        _PERIODS + " select per.label, p.team_id, count(*) as n,"
        " count(*) filter (where (q.answers ->> %(question)s)::boolean) as yes"
        " from per join questionnaire_responses q on q.authored_at >= per.starts"
        "   and q.authored_at < per.ends and q.questionnaire = %(questionnaire)s"
        "   and q.answers ? %(question)s"
        " join patients p on p.id = q.patient_id" + _GROUPS,
        _params(questionnaire=questionnaire, question=question, **periods)).fetchall()


def before_enrolment(conn: Connection[Any], *, starts: datetime, ends: datetime, now: datetime
                     ) -> list[dict[str, Any]]:
    """Patients monitored in [starts, ends) whose admissions in the 12 months before enrolment
    are known, and the sum of those admissions."""
    return conn.execute(
        "select p.team_id, count(*) as known, sum(p.admissions_before)::int as admissions"
        " from patients p where p.created_at < least(%(ends)s, %(now)s)"
        " and coalesce(p.discharged_at, 'infinity') > %(starts)s"
        " and p.admissions_before is not null"
        " group by grouping sets ((p.team_id), ())",
        {"starts": starts, "ends": ends, "now": now}).fetchall()
