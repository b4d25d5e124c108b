"""JSON bodies rendered by pydantic in one pass. A route that returns a list of models makes
FastAPI validate every item against the response model again before serialising it; for lists of
hundreds of rows that second pass costs more than the query."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


class JsonList(Generic[T]):
    """Renders rows (mappings or models) as a JSON array of ``T``, validated once."""

    def __init__(self, item: type[T]) -> None:
        self._adapter: TypeAdapter[list[T]] = TypeAdapter(list[item])  # type: ignore[valid-type]

    def render(self, rows: Sequence[Mapping[str, Any] | T]) -> bytes:
        return self._adapter.dump_json(self._adapter.validate_python(rows))
