"""The triage list in one query: each patient's unresolved alerts aggregated by an index probe
(the partial unique index on unresolved alerts), ordered worst severity first, then oldest
unhandled; the last measurement is looked up only for the page's rows.

Filters are composed into the statement rather than written as ``%s is null or …``: psycopg
prepares a statement after a few executions, and a generic plan cannot drop such a branch, so it
would scan every team's patients."""

from __future__ import annotations

from typing import Any

from psycopg import Connection, sql

from core.access import Viewer, visible_patients
from core.db import all_of
from core.measurement_types import MEASUREMENT_TYPES

_SEVERITIES = ["red", "yellow", "blue", "green"]


def triage(conn: Connection[Any], viewer: Viewer, *, team: str | None, offset: int, limit: int
           ) -> list[dict[str, Any]]:
    filters = all_of(sql.SQL("p.active"), visible_patients(viewer),
                     sql.SQL("t.name = %(team)s") if team is not None else None)
    query = sql.SQL(
        """
        with page as (
            select p.id as patient_id, p.display_name, t.name as team, u.worst_rank,
                   u.red, u.yellow, u.blue, u.green, u.unhandled, u.unhandled_green,
                   u.oldest_unhandled_at
            from patients p join teams t on t.id = p.team_id
            cross join lateral (
                select min(array_position(%(severities)s::text[], a.severity)) as worst_rank,
                       count(*) filter (where a.severity = 'red') as red,
                       count(*) filter (where a.severity = 'yellow') as yellow,
                       count(*) filter (where a.severity = 'blue') as blue,
                       count(*) filter (where a.severity = 'green') as green,
                       count(*) filter (where a.status = 'open') as unhandled,
                       count(*) filter (where a.status = 'open' and a.severity = 'green')
                           as unhandled_green,
                       min(a.opened_at) filter (where a.status = 'open') as oldest_unhandled_at
                from alerts a where a.patient_id = p.id and a.status <> 'resolved'
            ) u
            where {filters}
            order by coalesce(u.worst_rank, 99), u.oldest_unhandled_at nulls last, p.id
            offset %(offset)s limit %(limit)s
        )
        select page.*, (%(severities)s::text[])[page.worst_rank] as worst_severity, last.at
               as last_measured_at,
               (select count(*) from patient_messages m where m.patient_id = page.patient_id
                and m.direction = 'patient' and m.read_at is null) as unread_messages
        from page cross join lateral (
            select max(r.measured_at) as at from unnest(%(types)s::text[]) as ty(type)
            cross join lateral (select measured_at from readings
                                where patient_id = page.patient_id and type = ty.type
                                order by measured_at desc limit 1) r
        ) last
        order by coalesce(page.worst_rank, 99), page.oldest_unhandled_at nulls last,
                 page.patient_id
        """).format(filters=filters)
    return conn.execute(
        query, {"severities": _SEVERITIES, "team": team,
                "offset": offset, "limit": limit, "types": list(MEASUREMENT_TYPES)}).fetchall()
