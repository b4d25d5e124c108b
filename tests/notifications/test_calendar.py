"""Danish public holidays (Easter computed, checked against dateutil's Easter for four
centuries) and who is on call: weekdays, weekends, holidays, slots past midnight, daylight-saving
days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.easter import EASTER_WESTERN, easter
from hypothesis import given
from hypothesis import strategies as st

from notifications.calendar import (
    Slot,
    danish_public_holidays,
    easter_sunday,
    is_public_holiday,
    next_local_time,
    on_call,
)

CPH = ZoneInfo("Europe/Copenhagen")


def test_easter_matches_an_independent_implementation() -> None:
    for year in range(1900, 2300):
        assert easter_sunday(year) == easter(year, EASTER_WESTERN), year


def test_danish_public_holidays_2026_and_store_bededag_until_2023() -> None:
    assert danish_public_holidays(2026) == {
        date(2026, 1, 1): "Nytårsdag", date(2026, 4, 2): "Skærtorsdag",
        date(2026, 4, 3): "Langfredag", date(2026, 4, 5): "Påskedag",
        date(2026, 4, 6): "2. påskedag", date(2026, 5, 14): "Kristi himmelfartsdag",
        date(2026, 5, 24): "Pinsedag", date(2026, 5, 25): "2. pinsedag",
        date(2026, 12, 25): "Juledag", date(2026, 12, 26): "2. juledag"}
    assert danish_public_holidays(2023)[date(2023, 5, 5)] == "Store bededag"
    assert date(2024, 4, 26) not in danish_public_holidays(2024)
    assert not is_public_holiday(date(2026, 12, 24))


def _local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CPH)


ROTA = [
    Slot(user_id=1, role="primary", day="mon", starts=time(7), ends=time(15)),
    Slot(user_id=2, role="primary", day="mon", starts=time(15), ends=time(23)),
    Slot(user_id=3, role="primary", day="mon", starts=time(23), ends=time(7)),
    Slot(user_id=4, role="secondary", day="mon", starts=time(7), ends=time(15)),
    Slot(user_id=5, role="primary", day="sat", starts=time(0), ends=time(0)),
    Slot(user_id=6, role="primary", day="holiday", starts=time(8), ends=time(20)),
    Slot(user_id=7, role="primary", day="holiday", starts=time(20), ends=time(8)),
]


@pytest.mark.parametrize(("at", "primary", "secondary"), [
    (_local(2026, 11, 30, 7), [1], [4]),          # Monday, day shift begins
    (_local(2026, 11, 30, 14, 59), [1], [4]),
    (_local(2026, 11, 30, 15), [2], []),          # evening
    (_local(2026, 11, 30, 23, 30), [3], []),      # night, Monday's slot
    (_local(2026, 12, 1, 6, 59), [3], []),        # night continues into Tuesday
    (_local(2026, 12, 1, 7), [], []),             # Tuesday: nobody in this rota
    (_local(2026, 12, 5, 12), [5], []),           # Saturday, all day
    (_local(2026, 4, 6, 9), [6], []),             # 2. påskedag (a Monday): holiday slots
    (_local(2026, 4, 6, 21), [7], []),
    (_local(2026, 4, 7, 7), [7], []),             # the holiday's night slot ends Tuesday 08:00
])
def test_on_call(at: datetime, primary: list[int], secondary: list[int]) -> None:
    assert on_call(ROTA, at.astimezone(UTC), "Europe/Copenhagen") == {
        "primary": primary, "secondary": secondary}


def test_on_call_across_daylight_saving_changes() -> None:
    # 2026-03-29 (Sunday) clocks go 02:00 → 03:00; 2026-10-25 03:00 → 02:00.
    rota = [Slot(user_id=9, role="primary", day="sun", starts=time(1), ends=time(4))]
    spring = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    assert on_call(rota, spring, "Europe/Copenhagen")["primary"] == [9]
    assert on_call(rota, spring + timedelta(hours=2), "Europe/Copenhagen")["primary"] == []
    autumn = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET, the second time
    assert on_call(rota, autumn, "Europe/Copenhagen")["primary"] == [9]


# hypothesis bounds naive datetimes; the drawn values are UTC.
_NAIVE_2000 = datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None)
_NAIVE_2100 = datetime(2100, 1, 1, tzinfo=UTC).replace(tzinfo=None)


@given(st.datetimes(min_value=_NAIVE_2000, max_value=_NAIVE_2100, timezones=st.just(UTC)),
       st.times())
def test_next_local_time_is_the_next_such_wall_clock_time(after: datetime, at: time) -> None:
    nxt = next_local_time(after, at, "Europe/Copenhagen")
    assert after < nxt <= after + timedelta(days=1, hours=1)
    local = nxt.astimezone(CPH)
    if local.time() != at:  # only a wall time the spring-forward night skips
        assert time(2) <= at < time(3)
        assert local.month == 3
        assert local.weekday() == 6
        assert local.day > 24
