from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class DeviceCreated(BaseModel):
    device_id: str
    mqtt_username: str
    mqtt_password: str
    """Shown once; the platform keeps only a hash and the broker its own."""
    patient_id: int
    created_at: datetime


class DeviceDeactivated(BaseModel):
    device_id: str
    patient_id: int
    deactivated_at: datetime
