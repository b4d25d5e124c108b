"""Device provisioning (admin): create with a one-time MQTT password, deactivate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from api.deps import AdminViewer, DbConn, SettingsDep
from core import errors
from devices import service
from devices.broker import BrokerAdmin, BrokerAdminError
from devices.schemas import DeviceCreated, DeviceDeactivated

router = APIRouter(prefix="/api/v1", tags=["devices"])


def broker_admin(settings: SettingsDep) -> Iterator[BrokerAdmin]:
    try:
        admin = BrokerAdmin.from_settings(settings).__enter__()
    except (BrokerAdminError, OSError) as exc:
        raise errors.BrokerUnavailable() from exc
    try:
        yield admin
    finally:
        admin.__exit__(None, None, None)


Broker = Annotated[BrokerAdmin, Depends(broker_admin)]


@router.post("/patients/{patient_id}/devices", status_code=status.HTTP_201_CREATED,
             response_model=DeviceCreated)
def create_device(patient_id: int, conn: DbConn, viewer: AdminViewer,
                  broker: Broker) -> DeviceCreated:
    return service.provision(conn, viewer=viewer, broker=broker, patient_id=patient_id)


@router.delete("/devices/{device_id}", response_model=DeviceDeactivated)
def deactivate_device(device_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{3,64}$")],
                      conn: DbConn, viewer: AdminViewer, broker: Broker) -> DeviceDeactivated:
    return service.deactivate(conn, viewer=viewer, broker=broker, device_id=device_id)
