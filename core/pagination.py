"""Keyset cursors shared by the lists of several domains."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from core import errors


def int_cursor(cursor: str | None) -> int | None:
    """The id an opaque id cursor stands for (None: the first page); 400 if it is not one."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError as exc:
        raise errors.InvalidCursor() from exc


def reading_cursor(row: dict[str, Any]) -> str:
    """The keyset position after a reading (``measured_at``, ``type``), opaque to clients."""
    return base64.urlsafe_b64encode(
        f"{row['measured_at'].isoformat()}|{row['type']}".encode()).decode()


def parse_reading_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The ``(measured_at, type)`` a reading cursor stands for (None: the first page); 400 if
    it is not one."""
    if cursor is None:
        return None
    try:
        at, _, type_ = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = datetime.fromisoformat(at)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise errors.InvalidCursor() from exc
    if moment.tzinfo is None:
        raise errors.InvalidCursor()
    return moment.astimezone(UTC), type_
