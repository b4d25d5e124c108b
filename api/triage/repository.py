"""The triage list in one query: unresolved alerts aggregated per patient, ordered worst severity
first, then oldest unhandled; the last measurement is looked up only for the page's rows."""

from __future__ import annotations

from typing import Any

from psycopg import Connection

from core.access import Viewer
from core.measurement_types import MEASUREMENT_TYPES

_SEVERITIES = ["red", "yellow", "blue", "green"]


def triage(conn: Connection[Any], viewer: Viewer, *, team: str | None, offset: int, limit: int
           ) -> list[dict[str, Any]]:
    return conn.execute(
        """
        with unresolved as (
            select a.patient_id,
                   min(array_position(%(severities)s::text[], a.severity)) as worst_rank,
                   count(*) filter (where a.severity = 'red') as red,
                   count(*) filter (where a.severity = 'yellow') as yellow,
                   count(*) filter (where a.severity = 'blue') as blue,
                   count(*) filter (where a.severity = 'green') as green,
                   min(a.opened_at) filter (where a.status = 'open') as oldest_unhandled_at
            from alerts a join patients p on p.id = a.patient_id
            where a.status <> 'resolved'
              and (%(teams)s::bigint[] is null or p.team_id = any(%(teams)s))
            group by a.patient_id
        ), page as (
            select p.id as patient_id, p.display_name, t.name as team, u.worst_rank,
                   coalesce(u.red, 0) as red, coalesce(u.yellow, 0) as yellow,
                   coalesce(u.blue, 0) as blue, coalesce(u.green, 0) as green,
                   u.oldest_unhandled_at
            from patients p join teams t on t.id = p.team_id
            left join unresolved u on u.patient_id = p.id
            where p.active
              and (%(teams)s::bigint[] is null or p.team_id = any(%(teams)s))
              and (%(team)s::text is null or t.name = %(team)s)
            order by coalesce(u.worst_rank, 99), u.oldest_unhandled_at nulls last, p.id
            offset %(offset)s limit %(limit)s
        )
        select page.*, (%(severities)s::text[])[page.worst_rank] as worst_severity, last.at
               as last_measured_at
        from page cross join lateral (
            select max(r.measured_at) as at from unnest(%(types)s::text[]) as ty(type)
            cross join lateral (select measured_at from readings
                                where patient_id = page.patient_id and type = ty.type
                                order by measured_at desc limit 1) r
        ) last
        order by coalesce(page.worst_rank, 99), page.oldest_unhandled_at nulls last,
                 page.patient_id
        """,
        {"severities": _SEVERITIES, "teams": viewer.team_filter, "team": team,
         "offset": offset, "limit": limit, "types": list(MEASUREMENT_TYPES)}).fetchall()
