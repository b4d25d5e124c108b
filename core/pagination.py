"""Keyset cursors shared by the lists of several domains."""

from __future__ import annotations


def int_cursor(cursor: str | None) -> int | None:
    """The id an id cursor stands for (None: the first page). Its form (``api.params.IdCursor``)
    is checked at the edge and described in the OpenAPI document."""
    return int(cursor) if cursor else None
