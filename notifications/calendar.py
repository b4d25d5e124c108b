"""Danish public holidays and who is on call at an instant. Pure functions, no I/O.

The rota is local (Europe/Copenhagen): a slot names a weekday (or ``holiday``) and a local start
and end; an end at or before the start runs past midnight into the next day. On a public holiday
the team's ``holiday`` slots replace the weekday's, when the team has any.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher).

    >>> easter_sunday(2026)
    datetime.date(2026, 4, 5)
    """
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


@cache
def danish_public_holidays(year: int) -> dict[date, str]:
    """The Danish public holidays (helligdage) of ``year``: fixed dates and those that follow
    Easter. Store bededag (4th Friday after Easter) was abolished from 2024. Christmas Eve, New
    Year's Eve and Grundlovsdag are not public holidays; a team that staffs them as one adds
    ordinary slots.

    >>> sorted(danish_public_holidays(2026))[1]
    datetime.date(2026, 4, 2)
    """
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Nytårsdag",
        easter - timedelta(days=3): "Skærtorsdag",
        easter - timedelta(days=2): "Langfredag",
        easter: "Påskedag",
        easter + timedelta(days=1): "2. påskedag",
        easter + timedelta(days=39): "Kristi himmelfartsdag",
        easter + timedelta(days=49): "Pinsedag",
        easter + timedelta(days=50): "2. pinsedag",
        date(year, 12, 25): "Juledag",
        date(year, 12, 26): "2. juledag",
    }
    if year < 2024:
        days[easter + timedelta(days=26)] = "Store bededag"
    return dict(sorted(days.items()))


def is_public_holiday(day: date) -> bool:
    return day in danish_public_holidays(day.year)


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    user_id: int
    role: str
    day: str
    starts: time
    ends: time


def _day_kind(day: date, *, holiday_slots: bool) -> str:
    if holiday_slots and is_public_holiday(day):
        return "holiday"
    return WEEKDAYS[day.weekday()]


def on_call(slots: Sequence[Slot], at: datetime, timezone: str) -> dict[str, list[int]]:
    """Who is on call at the instant ``at``, by role (``primary``, ``secondary``), in slot order.

    A slot of day D from ``starts`` to ``ends`` covers local D ``starts`` ≤ t < ``ends``; when
    ``ends`` ≤ ``starts`` it covers D from ``starts`` to midnight and D+1 until ``ends``.
    """
    local = at.astimezone(ZoneInfo(timezone))
    today, now = local.date(), local.time().replace(tzinfo=None)
    yesterday = today - timedelta(days=1)
    holiday_slots = any(s.day == "holiday" for s in slots)
    kind_today = _day_kind(today, holiday_slots=holiday_slots)
    kind_yesterday = _day_kind(yesterday, holiday_slots=holiday_slots)
    found: dict[str, list[int]] = {"primary": [], "secondary": []}
    for s in slots:
        overnight = s.ends <= s.starts
        covers = (s.day == kind_today and s.starts <= now and (overnight or now < s.ends)) or (
            overnight and s.day == kind_yesterday and now < s.ends)
        if covers and s.user_id not in found[s.role]:
            found[s.role].append(s.user_id)
    return found


def next_local_time(after: datetime, at: time, timezone: str) -> datetime:
    """The first instant strictly after ``after`` whose local wall-clock time is ``at`` (a time
    skipped by a daylight-saving change falls on the instant the clock jumps to)."""
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    for offset in range(3):
        candidate = datetime.combine(local.date() + timedelta(days=offset), at, tzinfo=zone)
        # Normalise through UTC: a skipped local time maps to a real instant.
        instant = candidate.astimezone(ZoneInfo("UTC"))
        if instant > after:
            return instant
    raise AssertionError("unreachable: a local time occurs within three days")


def in_local_hours(at: datetime, starts: time, ends: time, timezone: str) -> bool:
    """Whether the local time of ``at`` lies in [starts, ends)."""
    now = at.astimezone(ZoneInfo(timezone)).time().replace(tzinfo=None)
    return starts <= now < ends


def holidays_between(first: date, last: date) -> Iterable[tuple[date, str]]:
    for year in range(first.year, last.year + 1):
        for day, name in danish_public_holidays(year).items():
            if first <= day <= last:
                yield day, name
