"""The patient's tablet: a nurse starts pairing (code + QR), the tablet redeems the code once for
its device credentials and reads, authenticated as its device, today's plan and its patient's own
readings. The app itself (tablet/) and the MQTT client it uses are served from here too."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, status
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.staticfiles import StaticFiles

from api.deps import CurrentViewer, DbConn, SettingsDep, client_address
from api.routes.devices import Broker
from core import errors
from core.settings import Settings
from devices import service as devices
from tablets import service, throttle
from tablets.schemas import (
    MeasurementTypeOut,
    PairingStarted,
    PairRequest,
    TabletCredentials,
    TabletToday,
)

CHECKOUT = Path(__file__).resolve().parents[2]

router = APIRouter(prefix="/api/v1", tags=["tablet"])
device_basic = HTTPBasic(auto_error=False, realm="kol-device")


def current_device_patient(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(device_basic)],
        conn: DbConn) -> int:
    """The patient of the device that authenticates with its MQTT username and password."""
    if credentials is None:
        raise errors.DeviceUnauthenticated()
    return devices.authenticate(conn, device_id=credentials.username,
                                secret=credentials.password)


DevicePatient = Annotated[int, Depends(current_device_patient)]


@router.post("/patients/{patient_id}/pairing", status_code=status.HTTP_201_CREATED,
             response_model=PairingStarted)
def start_pairing(patient_id: int, request: Request, conn: DbConn, viewer: CurrentViewer,
                  settings: SettingsDep) -> PairingStarted:
    """A one-time code (and its QR code) with which a tablet pairs as the patient's device."""
    return service.start_pairing(conn, settings=settings, viewer=viewer, patient_id=patient_id,
                                 tablet_url=f"{request.base_url}tablet/")


@router.post("/tablet/pair", status_code=status.HTTP_201_CREATED,
             response_model=TabletCredentials)
def pair(body: PairRequest, request: Request, conn: DbConn, settings: SettingsDep,
         broker: Broker) -> TabletCredentials:
    """Redeem a pairing code: the device credentials, given once. The patient's other devices
    are deactivated."""
    throttle.reserve(settings, client_address(request))
    return service.redeem(conn, settings=settings, broker=broker, code=body.code)


@router.get("/tablet/measurement-types", response_model=list[MeasurementTypeOut])
async def measurement_types() -> list[MeasurementTypeOut]:
    """The type registry's units and accepted ranges, checked by the tablet before sending."""
    return service.measurement_types()


@router.get("/tablet/today", response_model=TabletToday)
def today(patient_id: DevicePatient, conn: DbConn, settings: SettingsDep) -> TabletToday:
    """The device's own patient: today's plan, recent readings, 14 days, what a nurse has seen."""
    return service.today(conn, settings=settings, patient_id=patient_id)


def install(app: FastAPI, settings: Settings) -> None:
    root = settings.tablet_web_root or CHECKOUT
    app_dir = root / "tablet"
    mqtt_js = root / "node_modules" / "mqtt" / "dist" / "mqtt.esm.js"
    app.include_router(router)

    @app.get("/tablet", include_in_schema=False)
    def tablet_slash() -> RedirectResponse:
        # The app's relative URLs and the service worker's scope need the trailing slash.
        return RedirectResponse("/tablet/", status_code=308)

    @app.get("/tablet/", include_in_schema=False)
    def tablet_app() -> FileResponse:
        return FileResponse(app_dir / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/tablet/vendor/mqtt.esm.js", include_in_schema=False)
    def mqtt_client() -> FileResponse:
        return FileResponse(mqtt_js, media_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/tablet", StaticFiles(directory=app_dir), name="tablet")
