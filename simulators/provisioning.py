"""Provisioning simulated patients and tablets, and remembering them.

Through the API (``../shared/docs/api.md``): an admin token, ``POST /api/v1/patients``, then
``POST /api/v1/patients/{id}/devices``, whose MQTT password is shown once, so the fleet keeps the
issued credentials in a state file (mode 0600) under ``$KOL_STACK_DIR`` and reuses them on the
next start instead of enrolling new patients.

Load tests may skip the API and register devices at the broker directly
(:meth:`devices.broker.BrokerAdmin.provision_devices`): such devices are bound to no patient,
so the gateway rejects their readings as ``unknown_device``; they measure the MQTT path only.
"""

from __future__ import annotations

import json
import logging
import os
import re
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from simulators.cohort import Cohort
from simulators.fleet import Device

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SCHEDULE_DEADLINE = "12:00"


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: str) -> None:
        super().__init__(f"{method} {path} → {status}: {body[:300]}")
        self.status = status
        self.body = body


class ApiClient:
    """A small blocking client for the admin endpoints the fleet needs (stdlib HTTP)."""

    def __init__(self, base_url: str, *, tls: ssl.SSLContext | None,
                 timeout: float = 15.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._tls = tls
        self.timeout = timeout
        self._token: str | None = None
        self._login: tuple[str, str] | None = None

    def login(self, username: str, password: str) -> None:
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "grant_type": "password"}).encode()
        body = self._send("POST", "/api/v1/auth/token", form,
                          {"Content-Type": "application/x-www-form-urlencoded"})
        self._token = str(body["access_token"])
        self._login = (username, password)

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]
              ) -> dict[str, Any]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Accept": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout,
                                        context=self._tls) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(method, path, exc.code, exc.read().decode(errors="replace")) from exc
        parsed: dict[str, Any] = json.loads(raw) if raw else {}
        return parsed

    def request(self, method: str, path: str, body: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        """JSON request with the bearer token; logs in again once if the token expired."""
        for attempt in (1, 2):
            headers = {"Content-Type": "application/json"}
            if self._token:
                headers["Authorization"] = f"Bearer {self._token}"
            try:
                return self._send(method, path, None if body is None else json.dumps(body).encode(),
                                  headers)
            except ApiError as exc:
                if exc.status != 401 or attempt == 2 or self._login is None:
                    raise
                self.login(*self._login)
        raise AssertionError("unreachable")

    def create_patient(self, *, display_name: str, team: str, profile: str,
                       schedule: dict[str, Any]) -> int:
        created = self.request("POST", "/api/v1/patients", {
            "display_name": display_name, "team": team, "profile": profile,
            "schedule": schedule})
        return int(created["id"])

    def find_patient(self, display_name: str, team: str) -> int | None:
        listed: Any = self.request("GET", "/api/v1/patients?limit=500")
        for patient in listed:
            if patient["display_name"] == display_name and patient["team"] == team:
                return int(patient["id"])
        return None

    def start_pairing(self, patient_id: int) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/patients/{patient_id}/pairing")

    def create_device(self, patient_id: int) -> tuple[str, str]:
        created = self.request("POST", f"/api/v1/patients/{patient_id}/devices")
        if created["mqtt_username"] != created["device_id"]:
            raise ApiError("POST", "/devices", 201, "mqtt_username differs from device_id")
        return str(created["device_id"]), str(created["mqtt_password"])


def patient_schedule(cohort: Cohort, index: int) -> dict[str, Any]:
    """The platform schedule matching the simulated patient's measuring days."""
    days = [d for d, on in zip(WEEKDAYS, cohort.patients.schedule[index].tolist(), strict=True)
            if on]
    return {"days": days, "deadline": SCHEDULE_DEADLINE, "types": ["spo2", "pulse", "weight"]}


@dataclass(slots=True, kw_only=True)
class FleetState:
    """What a fleet remembers between runs (the file holds device passwords: mode 0600)."""

    team: str
    seed: int
    sim_start: str
    """Start of the simulated world (RFC 3339); the cohort is generated from here."""
    horizon_days: int
    cohort_patients: int
    clock: str
    """How far the simulation has got; a restart continues from here."""
    devices: list[Device] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> FleetState | None:
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["devices"] = [Device(**d) for d in raw["devices"]]
        return cls(**raw)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({**asdict(self), "devices": [asdict(d) for d in self.devices]}, out,
                      indent=1)
        tmp.replace(path)

    def start_time(self) -> datetime:
        return datetime.fromisoformat(self.sim_start)


def state_path(stack_dir: Path, team: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", team.lower()).strip("-") or "team"
    return stack_dir / f"sim-fleet-{slug}.json"


def provision_patients(api: ApiClient, state: FleetState, cohort: Cohort, n: int,
                       path: Path) -> None:
    """Enrol simulated patients with a tablet each until the state holds ``n``; the state is
    saved after each, so an interrupted run loses no issued credentials."""
    for index in range(len(state.devices), n):
        profile = "kol-ltot" if cohort.patients.ltot[index] else "kol-standard"
        patient_id = api.create_patient(display_name=f"Simuleret borger {index + 1:03d}",
                                        team=state.team, profile=profile,
                                        schedule=patient_schedule(cohort, index))
        device_id, password = api.create_device(patient_id)
        state.devices.append(Device(device_id=device_id, password=password,
                                    patient_index=index, patient_id=patient_id))
        state.save(path)
        log.info("enrolled simulated patient %d (%s) with tablet %s", patient_id, profile,
                 device_id)


def credentials_work(host: str, port: int, device: Device, *, tls: ssl.SSLContext | None,
                     timeout: float = 10.0) -> bool:
    """Whether the broker still accepts the device's credentials (a reset stack forgets them)."""
    answered = threading.Event()
    accepted: list[bool] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                   properties: Any) -> None:
        accepted.append(not reason.is_failure)
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device.device_id,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(device.device_id, device.password)
    if tls is not None:
        client.tls_set_context(tls)
    client.on_connect = on_connect
    client.connect(host, port, keepalive=30)
    client.loop_start()
    try:
        answered.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return bool(accepted and accepted[0])
