from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from alerts.schemas import AlertOut, Severity

EventName = Literal["opened", "updated", "escalated", "acknowledged", "resolved"]


class AlertEvent(BaseModel):
    """The ``data:`` of one server-sent event; the SSE ``id:`` is ``event_id`` and the SSE
    ``event:`` is ``event``."""

    event_id: int
    event: EventName
    at: datetime
    severity: Severity
    """The severity the event was written with (an escalation's new severity)."""
    note: str | None
    alert: AlertOut
    """The alert as it is now (on replay it may have moved on since the event)."""


class LateReading(BaseModel):
    type: str
    measured_at: datetime
    value: float
    late: bool


class LateReadingsEvent(BaseModel):
    """The ``data:`` of a server-sent ``event: readings`` (additive to the v1 stream; it has no
    ``id:``): readings of one patient stored late, i.e. measured more than a day before they
    arrived (a tablet's outbox after days offline). A page showing her series inserts them at
    their place; newer readings come with the alert events, and a page reads them anew."""

    patient_id: int
    readings: list[LateReading]


class MessagesEvent(BaseModel):
    """The ``data:`` of a server-sent ``event: messages`` (additive to the v1 stream; no
    ``id:``): the patient's conversation changed — a message of hers arrived, the team replied,
    or a message was read on either side (docs/messages.md). It names only her: a page showing
    her thread, or her unread count, reads it anew."""

    patient_id: int
