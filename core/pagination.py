"""Keyset cursors shared by the lists of several domains. Their forms are checked at the edge
(``api.params``) and described in the OpenAPI document, so parsing here cannot fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

READING_CURSOR = r"^[0-9]{1,17}\.[a-z0-9_]{1,32}$"
"""The position after a reading: its ``measured_at`` in µs since 1970 (UTC), a dot, its type."""


def int_cursor(cursor: str | None) -> int | None:
    """The id an id cursor stands for (None: the first page)."""
    return int(cursor) if cursor else None


def reading_cursor(row: dict[str, Any]) -> str:
    """The keyset position after a reading (``measured_at``, ``type``)."""
    return f"{(row['measured_at'] - _EPOCH) // _MICROSECOND}.{row['type']}"


def parse_reading_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The ``(measured_at, type)`` a :data:`READING_CURSOR` names (None: the first page)."""
    if cursor is None:
        return None
    micros, _, type_ = cursor.partition(".")
    return _EPOCH + int(micros) * _MICROSECOND, type_
