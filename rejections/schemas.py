from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

PAYLOAD_PREVIEW_BYTES = 4096


class RejectionOut(BaseModel):
    id: int
    received_at: datetime
    topic: str
    device_id: str | None
    msg_id: str | None
    reading_index: int | None
    """The rejected reading's position in the batch; null when the whole message was rejected."""
    reason: str
    detail: str | None
    payload: str | None
    """The raw payload as UTF-8 (invalid bytes replaced), cut at 4 KiB; null when the input
    belongs to no known patient (an unknown device, a foreign topic): it may be anyone's data."""
    payload_bytes: int
    """The size of the whole payload as received."""
    payload_truncated: bool
    """The platform kept only the first ``KOL_DEAD_LETTER_PAYLOAD_BYTES`` of it."""
