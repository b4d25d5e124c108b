"""The clients of the multi-host test, run inside the client namespace: a fleet of TLS tablets
(``simulators.tablet.Tablet``: QoS 1, the same batch resent until its receipt) through the MQTT
load balancer, and a dashboard-like client polling the API through the HTTP load balancer.

    python -m tests.ha.driver SETUP_JSON      # prints "ready", runs until "stop" on stdin,
                                              # then prints one JSON line of what it saw

It enrols its patients and devices itself (the services' role in the database, the devices
at every broker), so that readings are stored, not rejected as unknown devices.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from core.settings import get_settings
from devices.broker import BrokerAdmin
from simulators.mqtt_loop import SelectorLoop
from simulators.parameters import TabletParameters
from simulators.tablet import Reading, Tablet, TabletStats

SCHEDULE = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "deadline": "12:00",
            "types": ["spo2", "pulse"]}
TYPES = (("spo2", 95.0), ("pulse", 72.0))
PARAMS = TabletParameters(clock_skew_sd_seconds=0.0, large_skew_fraction=0.0,
                          receipt_timeout_seconds=4.0)


@dataclass(slots=True)
class Batch:
    tablet: int
    msg_id: str
    readings: int
    second: int
    """The measurement time of its readings (epoch seconds)."""
    sent: float
    receipted: float | None = None


def enrol(setup: dict[str, Any], n: int) -> tuple[list[tuple[str, str]], str]:
    team = setup["team"]
    devices = [(f"ha-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex) for _ in range(n)]
    with psycopg.connect(setup["database_url"]) as conn:
        team_id = conn.execute("insert into teams (name) values (%s) on conflict (name)"
                               " do update set name = excluded.name returning id",
                               (team,)).fetchone()[0]  # type: ignore[index]
        for device_id, _ in devices:
            patient = conn.execute(
                "insert into patients (display_name, team_id, profile, schedule)"
                " values (%s, %s, 'kol-standard', %s) returning id",
                (device_id, team_id, Jsonb(SCHEDULE))
            ).fetchone()[0]  # type: ignore[index]
            conn.execute("insert into devices (device_id, patient_id, password_hash)"
                         " values (%s, %s, 'ha-test')", (device_id, patient))
    # As the platform provisions: at every broker (KOL_MQTT_ADMIN_HOSTS), since a tablet may
    # land on any of them.
    with BrokerAdmin.from_settings(get_settings()) as admin:
        admin.provision_devices(devices)
    return devices, team


def tls_context(setup: dict[str, Any]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=setup["ca_file"])


class Poller(threading.Thread):
    """A dashboard: lists the patients every half second through the load balancer."""

    def __init__(self, setup: dict[str, Any], token: str) -> None:
        super().__init__(daemon=True)
        self.url = f"https://{setup['lb']}:{setup['api_port']}/api/v1/patients"
        self.token = token
        self.tls = tls_context(setup)
        self.results: list[tuple[float, bool]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            at = time.time()
            request = urllib.request.Request(self.url, headers={
                "Authorization": f"Bearer {self.token}", "Connection": "close"})
            try:
                with urllib.request.urlopen(request, timeout=3, context=self.tls) as response:
                    ok = response.status == 200
                    response.read()
            except (urllib.error.URLError, OSError, TimeoutError):
                ok = False
            self.results.append((at, ok))
            self.stop.wait(max(0.0, 0.5 - (time.time() - at)))


def login(setup: dict[str, Any]) -> str:
    form = urllib.parse.urlencode({"username": setup["username"], "password": setup["password"],
                                   "grant_type": "password"}).encode()
    url = f"https://{setup['lb']}:{setup['api_port']}/api/v1/auth/token"
    with urllib.request.urlopen(url, data=form, timeout=30, context=tls_context(setup)) as resp:
        return str(json.loads(resp.read())["access_token"])


def main() -> int:
    setup = json.loads(open(sys.argv[1]).read())
    devices, _ = enrol(setup, setup["tablets"])
    loop = SelectorLoop()
    stats = TabletStats()
    tablets = [Tablet(device_id=d, password=p, host=setup["lb"], port=setup["mqtt_port"],
                      tls=tls_context(setup), loop=loop, rng=np.random.default_rng([7, i]),
                      stats=stats, params=PARAMS) for i, (d, p) in enumerate(devices)]
    for tablet in tablets:
        tablet.connect()
    deadline = time.monotonic() + 60
    while stats.connects < len(tablets) and time.monotonic() < deadline:
        loop.poll(0.05)
    poller = Poller(setup, login(setup))
    poller.start()
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)

    batches: list[Batch] = []
    open_batches: dict[str, Batch] = {}
    next_second = int(time.time()) + 1
    last_tick = 0.0
    while not stop.is_set():
        now = time.time()
        if now >= next_second:
            # One batch per tablet per second: each type measured once, at this second.
            for i, tablet in enumerate(tablets):
                readings = [Reading(type=code, value=value, measured_at_us=next_second * 1_000_000)
                            for code, value in TYPES]
                tablet.measure(readings, next_second * 1_000_000)
                msg_id = next(reversed(tablet.pending))
                batch = Batch(tablet=i, msg_id=msg_id, readings=len(readings),
                              second=next_second, sent=now)
                batches.append(batch)
                open_batches[msg_id] = batch
            next_second += 1
        loop.poll(0.02)
        if now - last_tick >= 0.2:
            for tablet in tablets:
                tablet.tick()
            loop.misc()
            last_tick = now
        for msg_id in [m for m, b in open_batches.items() if m not in tablets[b.tablet].pending]:
            open_batches.pop(msg_id).receipted = time.time()

    # The end: every batch must get its receipt (tablets keep resending until it comes).
    flush_deadline = time.monotonic() + 90
    while open_batches and time.monotonic() < flush_deadline:
        loop.poll(0.05)
        for tablet in tablets:
            tablet.tick()
        for msg_id in [m for m, b in open_batches.items() if m not in tablets[b.tablet].pending]:
            open_batches.pop(msg_id).receipted = time.time()
    poller.stop.set()
    poller.join()
    ids = [d for d, _ in devices]
    with psycopg.connect(setup["database_url"]) as conn:
        rows = conn.execute(
            "select extract(epoch from measured_at)::bigint, count(*),"
            " count(distinct (device_id, type, measured_at))"
            " from readings where device_id = any(%s) group by 1", (ids,)).fetchall()
    for tablet in tablets:
        tablet.disconnect()
    loop.poll(0.5)
    print(json.dumps({
        "batches": [[b.second, b.readings, b.sent, b.receipted] for b in batches],
        "stored": [[int(s), int(n), int(d)] for s, n, d in rows],
        "polls": poller.results,
        "resends": stats.resends, "connection_losses": stats.connection_losses,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
