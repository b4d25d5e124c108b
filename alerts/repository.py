"""All SQL of the alert domain: history windows, thresholds, the alert lifecycle tables, pending
evaluations, schedules and pauses. Functions take a connection whose transaction the caller owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

import numpy as np
import numpy.typing as npt
from psycopg import Connection, sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from alerts.engine import SERIES_CODES
from alerts.reasons import Reason
from core.access import Viewer, visible_patients
from core.db import all_of
from ingest.schemas import ReadingColumns

_LOCK_NAMESPACE = 5
"""First key of the per-patient advisory lock that serialises alert lifecycle writes."""


def _columns(rows: list[tuple[Any, ...]]) -> ReadingColumns:
    """Rows of (patient_id, type, epoch microseconds, value, late) as arrays."""
    if not rows:
        return ReadingColumns(patient_id=np.empty(0, np.int64), type_index=np.empty(0, np.int16),
                              measured_at=np.empty(0, "datetime64[us]"),
                              value=np.empty(0, np.float64), late=np.empty(0, np.bool_))
    patient, type_code, micros, value, late = zip(*rows, strict=True)
    codes = np.array(type_code)
    type_index = np.full(codes.shape, -1, np.int16)
    for index, code in enumerate(SERIES_CODES):  # a handful of series
        type_index[codes == code] = index
    known = type_index >= 0
    return ReadingColumns(
        patient_id=np.array(patient, np.int64)[known], type_index=type_index[known],
        measured_at=np.array(micros, np.int64).astype("datetime64[us]")[known],
        value=np.array(value, np.float64)[known], late=np.array(late, np.bool_)[known])


_SELECT_READING = ("r.patient_id, r.type,"
                   " (extract(epoch from r.measured_at) * 1000000)::bigint, r.value, r.late")


def history_windows(conn: Connection[Any], *, patient_ids: npt.NDArray[np.int64],
                    start: npt.NDArray[np.datetime64], end: npt.NDArray[np.datetime64]
                    ) -> ReadingColumns:
    """Every reading of patient ``patient_ids[i]`` measured in ``[start[i], end[i]]``, in one
    query for the whole batch."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            f"select {_SELECT_READING}"
            " from unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) as w(pid, lo, hi)"
            " join alert_series r on r.patient_id = w.pid and r.measured_at between w.lo and w.hi",
            (patient_ids.tolist(), _datetimes(start), _datetimes(end)))
        return _columns(cur.fetchall())


def readings_received(conn: Connection[Any], *, patient_ids: list[int], measured_from: datetime,
                      measured_to: datetime, received_from: datetime, received_to: datetime
                      ) -> ReadingColumns:
    """The readings a pending evaluation stands for (recovery after a crash)."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            f"select {_SELECT_READING} from alert_series r where r.patient_id = any(%s)"
            " and r.measured_at between %s and %s and r.received_at between %s and %s",
            (patient_ids, measured_from, measured_to, received_from, received_to))
        return _columns(cur.fetchall())


def readings_measured(conn: Connection[Any], *, measured_from: datetime, measured_to: datetime,
                      patient_id: int | None) -> ReadingColumns:
    where = sql.SQL("r.patient_id = %(patient)s") if patient_id is not None else None
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL(
            "select {fields} from alert_series r"
            " where r.measured_at >= %(from)s and r.measured_at < %(to)s and {where}").format(
                fields=sql.SQL(_SELECT_READING), where=all_of(where)),
            {"from": measured_from, "to": measured_to, "patient": patient_id})
        return _columns(cur.fetchall())


def _datetimes(values: npt.NDArray[np.datetime64]) -> list[str]:
    return [f"{s}Z" for s in np.datetime_as_string(values.astype("datetime64[us]"))]


# --- thresholds ---------------------------------------------------------------------------------

def current_thresholds(conn: Connection[Any], patient_ids: list[int]) -> list[dict[str, Any]]:
    """Latest threshold version of each monitored patient (patients without one, and
    discharged patients, are absent: their readings raise no alerts)."""
    return conn.execute(
        "select distinct on (v.patient_id) v.patient_id, v.version, v.thresholds"
        " from threshold_versions v join patients p on p.id = v.patient_id"
        " where v.patient_id = any(%s) and p.active order by v.patient_id, v.version desc",
        (patient_ids,)).fetchall()


def visible_patient(conn: Connection[Any], viewer: Viewer, patient_id: int) -> bool:
    return conn.execute(sql.SQL("select 1 from patients p where p.id = %s and {}").format(
        visible_patients(viewer)), (patient_id,)).fetchone() is not None


def threshold_versions(conn: Connection[Any], viewer: Viewer, patient_id: int, *,
                       latest_only: bool) -> list[dict[str, Any]]:
    return conn.execute(sql.SQL(
        "select v.patient_id, v.version, v.thresholds, u.username as changed_by, v.changed_at,"
        " v.reason from threshold_versions v join patients p on p.id = v.patient_id"
        " left join users u on u.id = v.changed_by"
        " where v.patient_id = %s and {} order by v.version desc limit %s").format(
            visible_patients(viewer)), (patient_id, 1 if latest_only else None)).fetchall()


def insert_threshold_version(conn: Connection[Any], *, patient_id: int,
                             thresholds: dict[str, Any], changed_by: int | None, reason: str
                             ) -> dict[str, Any]:
    """The next version; the patient row lock serialises concurrent edits."""
    conn.execute("select 1 from patients where id = %s for update", (patient_id,))
    row: dict[str, Any] | None = conn.execute(
        "insert into threshold_versions (patient_id, version, thresholds, changed_by, reason)"
        " select %s, coalesce(max(version), 0) + 1, %s, %s, %s from threshold_versions"
        " where patient_id = %s returning version, changed_at",
        (patient_id, Jsonb(thresholds), changed_by, reason, patient_id)).fetchone()
    assert row is not None
    return row


# --- alert lifecycle ---------------------------------------------------------------------------

def lock_patients(conn: Connection[Any], patient_ids: list[int]) -> None:
    """Serialise lifecycle writes per patient (two gateway instances, recovery, the CLI), taking
    the locks in id order so that two batches cannot deadlock."""
    conn.execute(
        "select pg_advisory_xact_lock(%s, p::int) from"
        " (select distinct p from unnest(%s::bigint[]) as p order by p) as s",
        (_LOCK_NAMESPACE, patient_ids))


def unresolved_alerts(conn: Connection[Any], patient_ids: list[int]) -> list[dict[str, Any]]:
    return conn.execute(
        "select id, patient_id, rule, type, severity, status, first_measured_at,"
        " last_measured_at, value, late, reason from alerts"
        " where patient_id = any(%s) and status <> 'resolved' for update",
        (patient_ids,)).fetchall()


def alerted_readings(conn: Connection[Any], *, patient_ids: list[int], measured_from: datetime,
                     measured_to: datetime) -> list[tuple[int, str, str, datetime]]:
    """(patient_id, rule, type, measured_at) of readings already attached to an alert, so that
    evaluating the same readings again changes nothing."""
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(
            "select a.patient_id, a.rule, a.type, ar.measured_at"
            " from alerts a join alert_readings ar on ar.alert_id = a.id"
            " where a.patient_id = any(%s) and ar.measured_at between %s and %s",
            (patient_ids, measured_from, measured_to))
        return cur.fetchall()


def insert_alert(conn: Connection[Any], *, patient_id: int, rule: str, type_: str, severity: str,
                 first_measured_at: datetime | None, last_measured_at: datetime | None,
                 value: float | None, late: bool, reason: Reason, breach_count: int,
                 threshold_version: int | None) -> int:
    row = conn.execute(
        "insert into alerts (patient_id, rule, type, severity, first_measured_at,"
        " last_measured_at, value, late, reason, reason_code, reason_params, breach_count,"
        " threshold_version)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id",
        (patient_id, rule, type_, severity, first_measured_at, last_measured_at, value, late,
         reason.text, reason.code, Jsonb(reason.params), breach_count,
         threshold_version)).fetchone()
    assert row is not None
    return int(row["id"])


def update_alert(conn: Connection[Any], *, alert_id: int, severity: str, reopen: bool,
                 first_measured_at: datetime | None, last_measured_at: datetime | None,
                 value: float | None, late: bool, reason: Reason | None, added: int) -> None:
    """``reason`` None keeps the stored one (an older reading's breach does not replace it)."""
    conn.execute(
        "update alerts set severity = %s, status = case when %s then 'open' else status end,"
        " first_measured_at = %s, last_measured_at = %s, value = %s, late = %s,"
        " reason = coalesce(%s, reason), reason_code = coalesce(%s, reason_code),"
        " reason_params = coalesce(%s, reason_params),"
        " breach_count = breach_count + %s, updated_at = now() where id = %s",
        (severity, reopen, first_measured_at, last_measured_at, value, late,
         reason and reason.text, reason and reason.code,
         reason and Jsonb(reason.params), added, alert_id))


def insert_alert_readings(conn: Connection[Any], *, alert_ids: list[int], types: list[str],
                          measured_at: list[datetime], values: list[float]) -> None:
    conn.execute(
        "insert into alert_readings (alert_id, type, measured_at, value)"
        " select * from unnest(%s::bigint[], %s::text[], %s::timestamptz[],"
        " %s::double precision[]) on conflict do nothing",
        (alert_ids, types, measured_at, values))


def insert_alert_events(conn: Connection[Any], *, alert_ids: list[int], patient_ids: list[int],
                        events: list[str], severities: list[str], actor_id: int | None = None,
                        note: str | None = None, disposition: str | None = None) -> None:
    """One row per lifecycle step; the table's trigger NOTIFYs ``alert_events``."""
    conn.execute(
        "insert into alert_events (alert_id, patient_id, event, severity, actor_id, note,"
        " disposition) select a, p, e, s, %s, %s, %s"
        " from unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) as x(a, p, e, s)",
        (actor_id, note, disposition, alert_ids, patient_ids, events, severities))


# --- pending evaluations ------------------------------------------------------------------------

def claim_pending(conn: Connection[Any], pending_id: int) -> bool:
    """Delete the hand-off row at the start of the evaluating transaction; False if recovery
    already evaluated it (the row lock also keeps recovery away while this transaction runs)."""
    return conn.execute("delete from pending_evaluations where id = %s returning id",
                        (pending_id,)).fetchone() is not None


def next_leftover_pending(conn: Connection[Any], *, older_than_seconds: float
                          ) -> dict[str, Any] | None:
    """The oldest left-over hand-off row (its gateway crashed before evaluating) that is due:
    not parked, its backoff over; locked until the caller's transaction ends."""
    row: dict[str, Any] | None = conn.execute(
        "select * from pending_evaluations where parked_at is null"
        " and created_at < now() - make_interval(secs => %s)"
        " and (next_attempt_at is null or next_attempt_at <= now())"
        " order by id limit 1 for update skip locked", (older_than_seconds,)).fetchone()
    return row


def delete_pending(conn: Connection[Any], pending_id: int) -> None:
    conn.execute("delete from pending_evaluations where id = %s", (pending_id,))


def record_failed_attempt(conn: Connection[Any], pending_id: int, *, error: str,
                          retry_in_seconds: float, park: bool) -> None:
    conn.execute(
        "update pending_evaluations set attempts = attempts + 1, last_error = %s,"
        " next_attempt_at = now() + make_interval(secs => %s),"
        " parked_at = case when %s then now() end where id = %s",
        (error, retry_in_seconds, park, pending_id))


def parked_pending(conn: Connection[Any], *, before_id: int | None, limit: int
                   ) -> list[dict[str, Any]]:
    where = sql.SQL("id < %(before)s") if before_id is not None else None
    return conn.execute(sql.SQL(
        "select id, created_at, cardinality(patient_ids) as patients, first_measured_at,"
        " last_measured_at, attempts, last_error, parked_at from pending_evaluations"
        " where parked_at is not null and {where} order by id desc limit %(limit)s").format(
            where=all_of(where)), {"before": before_id, "limit": limit}).fetchall()


def unpark_pending(conn: Connection[Any], pending_id: int) -> dict[str, Any] | None:
    """Make a parked row due again with a fresh count of attempts; None if it is not parked."""
    row: dict[str, Any] | None = conn.execute(
        "update pending_evaluations set parked_at = null, attempts = 0, next_attempt_at = null"
        " where id = %s and parked_at is not null returning id, last_error",
        (pending_id,)).fetchone()
    return row


def pending_counts(conn: Connection[Any]) -> dict[str, int]:
    """``waiting`` and ``parked`` hand-off rows."""
    row: dict[str, Any] | None = conn.execute(
        "select count(*) filter (where parked_at is null) as waiting,"
        " count(*) filter (where parked_at is not null) as parked"
        " from pending_evaluations").fetchone()
    assert row is not None
    return {"waiting": int(row["waiting"]), "parked": int(row["parked"])}


# --- alert list and handling (team-scoped) ------------------------------------------------------

_ALERT_FIELDS = ("a.id, a.patient_id, a.rule, a.type, a.severity, a.status, a.opened_at,"
                 " a.first_measured_at, a.last_measured_at, a.value, a.late, a.reason,"
                 " a.reason_code, a.reason_params")


def list_alerts(conn: Connection[Any], viewer: Viewer, *, status: str | None,
                severity: str | None, patient_id: int | None, since: datetime | None,
                before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Newest first (by id, which follows opening order); ``since`` filters on the last change."""
    where = all_of(
        visible_patients(viewer),
        sql.SQL("a.status = %(status)s") if status is not None else None,
        sql.SQL("a.severity = %(severity)s") if severity is not None else None,
        sql.SQL("a.patient_id = %(patient)s") if patient_id is not None else None,
        sql.SQL("a.updated_at >= %(since)s") if since is not None else None,
        sql.SQL("a.id < %(before)s") if before_id is not None else None)
    return conn.execute(sql.SQL(
        "select {fields} from alerts a join patients p on p.id = a.patient_id where {where}"
        " order by a.id desc limit %(limit)s").format(fields=sql.SQL(_ALERT_FIELDS), where=where),
        {"status": status, "severity": severity, "patient": patient_id, "since": since,
         "before": before_id, "limit": limit}).fetchall()


def lock_visible_alert(conn: Connection[Any], viewer: Viewer, alert_id: int
                       ) -> dict[str, Any] | None:
    row: dict[str, Any] | None = conn.execute(sql.SQL(
        "select {fields} from alerts a join patients p on p.id = a.patient_id"
        " where a.id = %(id)s and {visible} for update of a").format(
            fields=sql.SQL(_ALERT_FIELDS), visible=visible_patients(viewer)),
        {"id": alert_id}).fetchone()
    return row


_STEP_COLUMNS = {"acknowledged": ("acknowledged_by", "acknowledged_at", "acknowledge_note"),
                 "resolved": ("resolved_by", "resolved_at", "resolve_note")}


def set_alert_status(conn: Connection[Any], *, alert_id: int, status: str, actor_id: int | None,
                     note: str, disposition: str | None = None) -> dict[str, Any]:
    """Acknowledge or resolve; the who/when/note columns of that step, and the disposition if
    one is given (else the earlier one stays)."""
    by, at, note_column = _STEP_COLUMNS[status]
    row: dict[str, Any] | None = conn.execute(
        f"update alerts a set status = %s, {by} = %s, {at} = now(), {note_column} = %s,"
        f" disposition = coalesce(%s, disposition), updated_at = now() where id = %s"
        f" returning {_ALERT_FIELDS}",
        (status, actor_id, note, disposition, alert_id)).fetchone()
    assert row is not None
    return row


def clear_admitted_disposition(conn: Connection[Any], *, alert_id: int) -> bool:
    """The disposition ``admitted`` taken back; False where the alert has another one."""
    row = conn.execute("update alerts set disposition = null, updated_at = now()"
                       " where id = %s and disposition = 'admitted' returning id",
                       (alert_id,)).fetchone()
    return row is not None


def acknowledge_open_green(conn: Connection[Any], viewer: Viewer, *, patient_id: int | None,
                           actor_id: int | None, note: str) -> list[dict[str, Any]]:
    where = all_of(visible_patients(viewer),
                   sql.SQL("a.patient_id = %(patient)s") if patient_id is not None else None)
    return conn.execute(sql.SQL(
        "update alerts a set status = 'acknowledged', acknowledged_by = %(actor)s,"
        " acknowledged_at = now(), acknowledge_note = %(note)s, updated_at = now()"
        " from patients p where p.id = a.patient_id and a.status = 'open'"
        " and a.severity = 'green' and {where}"
        " returning a.id, a.patient_id, a.severity").format(where=where),
        {"actor": actor_id, "note": note, "patient": patient_id}).fetchall()


def readings_of_patient(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                        measured_from: datetime) -> ReadingColumns:
    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(sql.SQL(
            "select {fields} from alert_series r join patients p on p.id = r.patient_id"
            " where r.patient_id = %s and r.measured_at >= %s and {visible}").format(
                fields=sql.SQL(_SELECT_READING), visible=visible_patients(viewer)),
            (patient_id, measured_from))
        return _columns(cur.fetchall())


# --- schedules: missing measurements ------------------------------------------------------------

def missed_deadlines(conn: Connection[Any], *, since: datetime, until: datetime, timezone: str
                     ) -> list[dict[str, Any]]:
    """(patient_id, type, deadline) for every scheduled deadline in ``(since, until]`` whose
    required type has no reading measured that local day before the deadline, outside pause
    intervals, after enrolment, and not already covered by a 'missing' alert.

    Local schedule times become instants with PostgreSQL's ``at time zone`` in ``timezone``, so
    daylight-saving days are exact; a wall time that does not exist (02:30 on the spring-forward
    day) is read with the offset before the change, an ambiguous one (autumn) as the first one.
    """
    return conn.execute(
        """
        with days as (
            select d::date as day from generate_series(
                (%(since)s::timestamptz at time zone %(tz)s)::date,
                (%(until)s::timestamptz at time zone %(tz)s)::date, interval '1 day') as d
        ), due as (
            select p.id as patient_id, t.type,
                   (days.day + (p.schedule->>'deadline')::time) at time zone %(tz)s as deadline,
                   days.day::timestamp at time zone %(tz)s as day_start
            from patients p
            cross join days
            cross join lateral jsonb_array_elements_text(p.schedule->'types') as t(type)
            where p.active
              and p.schedule->'days' ? lower(to_char(days.day, 'dy'))
        )
        select due.patient_id, due.type, due.deadline from due
        join patients p on p.id = due.patient_id
        where due.deadline > %(since)s and due.deadline <= %(until)s
          and due.deadline > p.created_at
          and not exists (select 1 from readings r
                          where r.patient_id = due.patient_id and r.type = due.type
                            and r.measured_at >= due.day_start and r.measured_at <= due.deadline)
          and not exists (select 1 from patient_pauses pp
                          where pp.patient_id = due.patient_id
                            and due.deadline >= pp.starts_at and due.deadline < pp.ends_at)
          and not exists (select 1 from alerts a
                          where a.patient_id = due.patient_id and a.rule = 'missing'
                            and a.type = due.type
                            and due.deadline between a.first_measured_at and a.last_measured_at)
        order by due.patient_id, due.type, due.deadline
        """,
        {"since": since, "until": until, "tz": timezone}).fetchall()


def resolve_missing_arrived(conn: Connection[Any], *, patient_ids: list[int], types: list[str],
                            measured_at: list[datetime], timezone: str, note: str
                            ) -> list[dict[str, Any]]:
    """Resolve the unresolved 'missing' alerts that the readings (patient_ids[i], types[i],
    measured_at[i]) answer: a reading of the type measured on or after the local day of the
    alert's last missed deadline. The resolved alerts (id, patient_id, severity)."""
    return conn.execute(
        "update alerts a set status = 'resolved', resolved_at = now(), resolved_by = null,"
        " resolve_note = %(note)s, updated_at = now()"
        " where a.rule = 'missing' and a.status <> 'resolved' and exists ("
        "   select 1 from unnest(%(p)s::bigint[], %(t)s::text[], %(m)s::timestamptz[])"
        "     as r(patient_id, type, measured_at)"
        "   where r.patient_id = a.patient_id and r.type = a.type"
        "     and r.measured_at >= (a.last_measured_at at time zone %(tz)s)::date::timestamp"
        "                          at time zone %(tz)s)"
        " returning a.id, a.patient_id, a.severity",
        {"note": note, "p": patient_ids, "t": types, "m": measured_at, "tz": timezone}).fetchall()


# --- outcomes, burden and personal limits (team-scoped) ------------------------------------------

def _visible_rows(conn: Connection[Any], viewer: Viewer, query: LiteralString,
                  params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The rows of ``query``, whose ``{visible}`` is the viewer's patients (alias ``p``)."""
    return conn.execute(sql.SQL(query).format(visible=visible_patients(viewer)),
                        params).fetchall()


def alert_outcome_counts(conn: Connection[Any], viewer: Viewer, *, since: datetime
                         ) -> list[dict[str, Any]]:
    """Alerts opened since ``since`` counted per (rule, type, patient, disposition)."""
    return _visible_rows(
        conn, viewer,
        "select a.rule, a.type, a.patient_id, p.display_name, a.disposition, count(*) as n"
        " from alerts a join patients p on p.id = a.patient_id"
        " where a.opened_at >= %s and {visible}"
        " group by a.rule, a.type, a.patient_id, p.display_name, a.disposition", (since,))


def warning_alerts(conn: Connection[Any], viewer: Viewer, *, since: datetime
                   ) -> list[dict[str, Any]]:
    """Red and yellow alerts opened since ``since``: patient, opening time and disposition, in
    (patient, time) order."""
    return _visible_rows(
        conn, viewer,
        "select a.patient_id, a.opened_at, a.disposition from alerts a"
        " join patients p on p.id = a.patient_id"
        " where a.opened_at >= %s and a.severity in ('red', 'yellow') and {visible}"
        " order by a.patient_id, a.opened_at, a.id", (since,))


def exacerbation_admissions(conn: Connection[Any], viewer: Viewer, *, since: datetime
                            ) -> list[dict[str, Any]]:
    """Standing (not withdrawn) acute admissions for a COPD exacerbation since ``since``, in
    (patient, time) order."""
    return _visible_rows(
        conn, viewer,
        "select e.patient_id, e.occurred_at from care_events e"
        " join patients p on p.id = e.patient_id"
        " where e.kind = 'admission' and e.reason = 'copd_exacerbation'"
        " and e.withdrawn_at is null and e.occurred_at >= %s and {visible}"
        " order by e.patient_id, e.occurred_at", (since,))


def monitored_days(conn: Connection[Any], viewer: Viewer, *, since: datetime, now: datetime
                   ) -> float:
    """Days the visible patients were monitored (enrolment to discharge) between ``since`` and
    ``now``."""
    row = conn.execute(sql.SQL(
        "select coalesce(sum(extract(epoch from least(coalesce(p.discharged_at, 'infinity'), %s)"
        "   - greatest(%s, p.created_at)) / 86400.0), 0)::float8 as days from patients p"
        " where p.created_at < %s and coalesce(p.discharged_at, 'infinity') > %s"
        " and {visible}").format(visible=visible_patients(viewer)),
        (now, since, now, since)).fetchone()
    return float(row["days"]) if row else 0.0


def alert_burden(conn: Connection[Any], viewer: Viewer, *, since: datetime, limit: int
                 ) -> list[dict[str, Any]]:
    """Active patients by red, yellow and blue alerts opened since ``since``, most first."""
    return _visible_rows(
        conn, viewer,
        "select p.id as patient_id, p.display_name, count(a.id) as alerts"
        " from patients p left join alerts a on a.patient_id = p.id and a.opened_at >= %s"
        "  and a.severity <> 'green'"
        " where p.active and {visible} group by p.id, p.display_name"
        " order by count(a.id) desc, p.id limit %s", (since, limit))


def personalisation_subjects(conn: Connection[Any], viewer: Viewer, patient_ids: list[int]
                             ) -> list[dict[str, Any]]:
    """Per visible patient: profile, its run-in length and auto-personalisation, enrolment, and
    the thresholds in force."""
    return conn.execute(sql.SQL(
        "select p.id as patient_id, p.profile, p.created_at, pr.run_in_days,"
        " pr.auto_personalise, v.version, v.thresholds"
        " from patients p join profiles pr on pr.name = p.profile"
        " join lateral (select version, thresholds from threshold_versions t"
        "  where t.patient_id = p.id order by version desc limit 1) v on true"
        " where p.id = any(%s) and {visible} order by p.id").format(
            visible=visible_patients(viewer)), (patient_ids,)).fetchall()


def patients_due_for_personalisation(conn: Connection[Any], *, now: datetime, limit: int
                                     ) -> list[int]:
    """Active patients with automatic personalisation on (their own setting, else their
    profile's) whose run-in has ended and who have not been personalised yet; locked (skip
    locked) so that two workers never take the same one."""
    return [r["id"] for r in conn.execute(
        "select p.id from patients p join profiles pr on pr.name = p.profile"
        " left join patient_personalisation_settings ps on ps.patient_id = p.id"
        " where coalesce(ps.auto_personalise, pr.auto_personalise) and p.active"
        " and p.created_at + make_interval(days => pr.run_in_days) <= %s"
        " and not exists (select 1 from personalisations s where s.patient_id = p.id)"
        " order by p.id limit %s for update of p skip locked", (now, limit)).fetchall()]


def auto_personalise_setting(conn: Connection[Any], viewer: Viewer, patient_id: int
                             ) -> dict[str, Any] | None:
    """The patient's automatic-personalisation state: her own setting (null: none, she follows
    the profile) with who/when/why, the profile's, the run-in, and the personalisation's outcome
    if it has run. None if the viewer does not see her."""
    row: dict[str, Any] | None = conn.execute(sql.SQL(
        "select p.id as patient_id, p.profile, p.created_at, pr.run_in_days,"
        " pr.auto_personalise as profile_default, ps.auto_personalise as setting,"
        " u.username as changed_by, ps.changed_at, ps.reason,"
        " s.outcome, s.ran_at, s.version"
        " from patients p join profiles pr on pr.name = p.profile"
        " left join patient_personalisation_settings ps on ps.patient_id = p.id"
        " left join users u on u.id = ps.changed_by"
        " left join personalisations s on s.patient_id = p.id"
        " where p.id = %s and {visible}").format(visible=visible_patients(viewer)),
        (patient_id,)).fetchone()
    return row


def set_auto_personalise(conn: Connection[Any], *, patient_id: int, enabled: bool,
                         changed_by: int | None, reason: str) -> None:
    conn.execute(
        "insert into patient_personalisation_settings"
        " (patient_id, auto_personalise, changed_by, reason) values (%s, %s, %s, %s)"
        " on conflict (patient_id) do update set auto_personalise = excluded.auto_personalise,"
        " changed_by = excluded.changed_by, changed_at = now(), reason = excluded.reason",
        (patient_id, enabled, changed_by, reason))


def insert_personalisation(conn: Connection[Any], *, patient_id: int, version: int | None,
                           outcome: str) -> None:
    conn.execute("insert into personalisations (patient_id, version, outcome) values (%s, %s, %s)",
                 (patient_id, version, outcome))


def patient_alert_history(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                          limit: int) -> list[dict[str, Any]]:
    """The patient's alerts, resolved ones included, newest first, each with its lifecycle
    steps (who, when, note) oldest first."""
    return conn.execute(sql.SQL(
        "select {fields}, a.disposition, coalesce((select json_agg(json_build_object("
        "   'event', e.event, 'at', e.at, 'severity', e.severity, 'note', e.note,"
        "   'actor', u.username) order by e.id)"
        "  from alert_events e left join users u on u.id = e.actor_id"
        "  where e.alert_id = a.id), '[]'::json) as steps"
        " from alerts a join patients p on p.id = a.patient_id"
        " where a.patient_id = %(patient)s and {visible}"
        " order by a.id desc limit %(limit)s").format(
            fields=sql.SQL(_ALERT_FIELDS), visible=visible_patients(viewer)),
        {"patient": patient_id, "limit": limit}).fetchall()


def patient_alert_readings(conn: Connection[Any], viewer: Viewer, *, patient_id: int,
                           measured_from: datetime) -> list[dict[str, Any]]:
    """The readings that raised or updated the patient's alerts since ``measured_from``, with
    their alert's id, rule and severity (for markers on the plots)."""
    return conn.execute(sql.SQL(
        "select ar.alert_id, a.rule, a.severity, ar.type, ar.measured_at, ar.value"
        " from alert_readings ar join alerts a on a.id = ar.alert_id"
        " join patients p on p.id = a.patient_id"
        " where a.patient_id = %(patient)s and ar.measured_at >= %(from)s and {visible}"
        " order by ar.measured_at").format(visible=visible_patients(viewer)),
        {"patient": patient_id, "from": measured_from}).fetchall()
