from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from alerts.schemas import Severity


class OpenCounts(BaseModel):
    red: int
    yellow: int
    blue: int
    green: int


class TriageRow(BaseModel):
    patient_id: int
    display_name: str
    team: str
    worst_severity: Severity | None
    """Worst unresolved alert; null when nothing is open."""
    open_counts: OpenCounts
    """Unresolved alerts (open or acknowledged) by severity."""
    unhandled: int = 0
    """How many of them no nurse has acknowledged yet (status open); the rest are
    acknowledged and wait to be resolved."""
    unhandled_green: int = 0
    """Open green alerts: what "acknowledge all green" would act on."""
    oldest_unhandled_at: datetime | None
    """When the oldest alert still waiting for a nurse (status open) was opened."""
    last_measured_at: datetime | None
    unread_messages: int = 0
    """Her messages no one in the team has read yet (docs/messages.md)."""
