"""Query parameters that several operations share, described as the server judges them: what the
OpenAPI document allows, the server accepts."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from core.inputs import NO_NUL
from core.pagination import READING_CURSOR

ID_CURSOR = r"^[0-9]{1,18}$"
"""A keyset position: the id of the last row of the previous page (fits a bigint)."""

IdCursor = Annotated[str | None, Query(
    pattern=ID_CURSOR, description="The previous page's `X-Next-Cursor` (a row id).")]
OffsetCursor = Annotated[str | None, Query(
    pattern=ID_CURSOR, description="The previous page's `X-Next-Cursor` (a position in the "
                                   "list; past the end gives an empty page).")]
ReadingCursor = Annotated[str | None, Query(
    pattern=READING_CURSOR, description="The previous page's `X-Next-Cursor`: `<measured_at in µs "
                                        "since 1970>.<type>` of its last reading.")]
TextFilter = Annotated[str | None, Query(pattern=NO_NUL, max_length=200)]
Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
