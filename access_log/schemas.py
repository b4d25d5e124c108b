from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

What = Literal["overview", "measurements", "fhir", "alerts", "thresholds", "threshold-history",
               "threshold-proposal", "messages", "auto-personalisation", "diary"]
"""Which of a patient's data was read (the route)."""


class AccessEntry(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    patient_id: int
    what: What
    detail: dict[str, Any]
    """The read's parameters (time span, type, bucket), as far as they narrow what was seen."""
    address: str
    """The client's address as the API saw it (behind a proxy: run uvicorn with
    ``--proxy-headers``)."""
