"""What ingest hands to the alert engine after a commit: the readings that were newly stored
(duplicates excluded), as columns, so that the engine need not read back what was just written;
and the outcome of one batch. The parsed input itself is the protocol's
:class:`protocol.messages.Message`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from core.settings import Settings

LATE_READINGS_CHANNEL = "late_readings"
"""NOTIFY channel of readings stored late (``late``: measured more than a day before they
arrived, e.g. a tablet's outbox after days offline), sent in the storing transaction, so
delivered at its commit. Payload: JSON ``{"patient_id": …, "readings": [{"type", "measured_at"
(ISO 8601, UTC), "value", "late": true}, …]}``, at most ``LATE_READINGS_PER_NOTICE`` readings
of one patient (a longer outbox makes several notices). Open patient pages draw them without
reading the series again (``stream``); new readings of the last day come with alert events."""
MESSAGES_CHANNEL = "patient_messages"
"""NOTIFY channel of a patient's conversation (docs/messages.md): a message of hers stored, a
reply, a read receipt either way; sent by a trigger on ``patient_messages`` (migration 0496) in
the writing transaction. Payload: JSON ``{"patient_id": …}``, never the text: a page showing her
thread reads it anew."""
LATE_READINGS_PER_NOTICE = 50
"""Keeps a notice well below PostgreSQL's 8000-byte payload limit (about 100 bytes a reading)."""


def _default(name: str) -> Any:
    return Settings.model_fields[name].default


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterPolicy:
    """How much of a device's rejected input is kept (``Settings.dead_letter_*``)."""

    payload_bytes: int = _default("dead_letter_payload_bytes")
    letters_per_hour: int = _default("dead_letters_per_device_hour")
    bytes_per_hour: int = _default("dead_letter_bytes_per_device_hour")

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadLetterPolicy:
        return cls(payload_bytes=settings.dead_letter_payload_bytes,
                   letters_per_hour=settings.dead_letters_per_device_hour,
                   bytes_per_hour=settings.dead_letter_bytes_per_device_hour)


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
class BatchOutcome:
    """What one committed ingest transaction did."""

    receipts: tuple[tuple[str, bytes], ...] = ()
    """``(topic, payload)`` to publish now that the batch is committed."""
    accepted: int = 0
    duplicates: int = 0
    duplicate_messages: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)
    """Rejections (readings or whole messages), by reason."""
    dead_letter_bytes: int = 0
    """Payload bytes newly stored as dead letters."""
    dead_letters_suppressed: int = 0
    """Rejected messages not stored because their device was over its dead-letter budget."""
    committed: CommittedReadings | None = None
    """The newly stored readings, None when nothing new was stored."""
