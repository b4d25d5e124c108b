"""Keyset cursors shared by the lists of several domains."""

from __future__ import annotations

from core import errors


def int_cursor(cursor: str | None) -> int | None:
    """The id an opaque id cursor stands for (None: the first page); 400 if it is not one."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError as exc:
        raise errors.InvalidCursor() from exc
