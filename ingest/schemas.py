"""What ingest hands to the alert engine after a commit: the readings that were newly stored
(duplicates excluded), as columns, so that the engine need not read back what was just written.
Also the parsed input the batch writer takes and the outcome it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadingColumns:
    """Stored readings as columns, one entry per reading (what the alert engine evaluates)."""

    patient_id: npt.NDArray[np.int64]
    type_index: npt.NDArray[np.int16]
    """Index into ``core.measurement_types.TYPE_BY_INDEX``."""
    measured_at: npt.NDArray[np.datetime64]
    """``datetime64[us]``, UTC."""
    value: npt.NDArray[np.float64]
    late: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.patient_id.shape[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class CommittedReadings(ReadingColumns):
    pending_evaluation_id: int
    """Row in ``pending_evaluations`` written by the same ingest transaction; the alert
    evaluation deletes it when it commits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One reading that passed validation."""

    index: int
    """Position in the batch's ``readings`` list (receipts and dead letters refer to it)."""
    type_code: str
    measured_at: datetime
    value: float
    late: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    reason: str
    """One of the protocol's stable rejection reasons."""
    detail: str
    index: int | None = None
    """The reading's position, or None when the whole message is rejected."""


@dataclass(slots=True, kw_only=True)
class Message:
    """A message from the broker after parsing: never raised about, always judged."""

    topic: str
    payload: bytes
    received_at: datetime
    kind: str
    """``readings`` or ``status``."""
    device_id: str | None
    msg_id: str | None = None
    readings: list[Reading] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    """Per-reading rejections, or a single whole-message one (``index`` None)."""
    status: dict[str, Any] | None = None

    @property
    def rejected_whole(self) -> bool:
        return any(r.index is None for r in self.rejections)


@dataclass(slots=True, kw_only=True)
class BatchOutcome:
    """What one committed ingest transaction did."""

    receipts: list[tuple[str, bytes]] = field(default_factory=list)
    """``(topic, payload)`` to publish now that the batch is committed."""
    accepted: int = 0
    duplicates: int = 0
    duplicate_messages: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    committed: CommittedReadings | None = None
    """The newly stored readings, None when nothing new was stored."""
