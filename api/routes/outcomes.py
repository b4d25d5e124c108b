"""``/api/v1/outcomes``: the municipality's outcome figures, for managers and admins only.
Aggregates with small groups suppressed; docs/outcomes.md defines them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Response

from api.deps import CurrentViewer, DbConn, SettingsDep
from core import errors
from core.access import Viewer
from core.settings import Settings
from outcomes import service
from outcomes.schemas import OutcomesOut

router = APIRouter(prefix="/api/v1", tags=["outcomes"])

MONTH = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$"


async def outcomes_viewer(viewer: CurrentViewer) -> Viewer:
    if viewer.role not in ("manager", "admin"):
        raise errors.Forbidden("the outcomes are for managers and admins")
    return viewer


OutcomesViewer = Annotated[Viewer, Depends(outcomes_viewer)]
To = Annotated[str | None, Query(pattern=MONTH, description="the last month shown, `YYYY-MM` "
                                                           "(local time); default the current")]
Months = Annotated[int, Query(ge=1, le=service.MAX_MONTHS, description="how many months, "
                                                                       "ending with `to`")]
ReferenceYear = Annotated[int | None, Query(
    ge=1900, le=2099, description="the year compared with; default `KOL_OUTCOMES_REFERENCE_YEAR`"
                                  " (unset: last year)")]


def _compute(conn: DbConn, settings: Settings, to: str | None, months: int,
             reference_year: int | None) -> OutcomesOut:
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(UTC)
    if to is None:
        last = now.astimezone(tz).date()
    else:
        last = date(int(to[:4]), int(to[5:7]), 1)
    first_index = last.year * 12 + last.month - 1 - (months - 1)
    first = date(first_index // 12, first_index % 12 + 1, 1)
    year = reference_year or settings.outcomes_reference_year or now.astimezone(tz).year - 1
    return service.outcomes(conn, first=first, last=last, reference_year=year,
                            min_group=settings.outcomes_min_group, tz=tz, now=now)


@router.get("/outcomes", response_model=OutcomesOut)
def outcomes(conn: DbConn, viewer: OutcomesViewer, settings: SettingsDep, to: To = None,
             months: Months = 12, reference_year: ReferenceYear = None) -> OutcomesOut:
    """Per team and for the whole municipality (``team`` null, first), by local calendar month
    and over the reference year: patients monitored, admissions and outpatient visits per
    monitored patient-year (and admissions in the year before enrolment, where known),
    measurement adherence, alerts per patient-month by severity and their dispositions, minutes
    from a red alert to its acknowledgement (p50, p90), the patient-reported share managing
    without hospital contact. Only aggregates; a group with fewer monitored patients than
    ``KOL_OUTCOMES_MIN_GROUP`` in a period is suppressed (its figures null)."""
    return _compute(conn, settings, to, months, reference_year)


@router.get("/outcomes.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                             "description": "one row per group and period"}})
def outcomes_csv(conn: DbConn, viewer: OutcomesViewer, settings: SettingsDep, to: To = None,
                 months: Months = 12, reference_year: ReferenceYear = None) -> Response:
    """The same figures as ``/outcomes``, one CSV row per group and period (suppressed figures
    are empty cells)."""
    result = _compute(conn, settings, to, months, reference_year)
    return Response(service.to_csv(result), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="outcomes.csv"'})
