"""Scalar input types that accept exactly what the OpenAPI document says they accept.

pydantic's lax mode would also take ``false`` for a number, ``0.5`` for a timestamp and a NUL in
text that PostgreSQL cannot store; the schema allows none of them, so neither does the server."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Strict, StringConstraints

NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=NO_NUL)]
"""Free text: any string a PostgreSQL ``text`` can hold (no NUL)."""

Number = Annotated[float, Strict()]
"""A JSON number (an integer too), never a boolean or a string."""



def _json_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a JSON number")
    return value


Integer = Annotated[int, BeforeValidator(_json_number)]
"""A JSON integer (``90`` or ``90.0``), never a boolean or a string."""

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
                      re.IGNORECASE)


def _rfc3339(value: Any) -> Any:
    if not (isinstance(value, str) and _RFC3339.fullmatch(value)):
        raise ValueError("expected an RFC 3339 date-time with an offset, e.g. "
                         "2026-11-29T08:00:00+01:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""An RFC 3339 ``date-time`` with its offset (what ``format: date-time`` means)."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: Any) -> Any:
    if not (isinstance(value, str) and _DAY.fullmatch(value)):
        raise ValueError("expected a date YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_day)]
"""A calendar day, ``YYYY-MM-DD`` (what ``format: date`` means), never a number."""
