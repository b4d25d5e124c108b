"""Fleet load: N simulated tablets (default 2 000) from ONE process against the real broker in
accelerated mode (default a simulated day per real second), printing the achieved publish rate
and whether the fleet kept up.

    KOL_STACK_DIR=/var/tmp/kol-stack .venv/bin/python -m benchmarks.fleet [--tablets 2000]
        [--speed 86400] [--seconds 30]

Devices are registered at the broker directly (``BrokerAdmin.provision_devices``), not through
the API: the load-test shortcut. They are bound to no patient, so a running gateway dead-letters
their readings as ``unknown_device`` and sends no receipts; this measures the tablets' MQTT path
(publish → broker PUBACK), not ingestion. Their credentials are kept in
``$KOL_STACK_DIR/bench-fleet-devices.json`` and reused by later runs (provisioning 2 000 devices
takes about a minute, since the broker rewrites its security file after every command).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.settings import get_settings
from core.tls import mqtt_context
from devices.broker import BrokerAdmin
from simulators.cohort import generate_cohort
from simulators.fleet import Device, Fleet
from simulators.parameters import DEFAULT_TABLET
from simulators.provisioning import credentials_work

PROVISIONING_SECONDS = 300.0


def _devices(path: Path, n: int) -> list[Device]:
    settings = get_settings()
    known: list[Device] = []
    if path.exists():
        known = [Device(**d) for d in json.loads(path.read_text())]
        if known and not credentials_work(settings.mqtt_host, settings.mqtt_port, known[0],
                                      tls=mqtt_context(settings)):
            print(f"{path}: the broker no longer knows these devices; provisioning anew")
            known = []
    if len(known) < n:
        began = time.perf_counter()
        new = [Device(device_id=f"bench-{i:05d}", password=secrets.token_urlsafe(18),
                      patient_index=i) for i in range(len(known), n)]
        # The plugin rewrites its whole file after each command: with thousands of devices a
        # chunk takes longer than the usual 10-s answer timeout on a loaded machine.
        with BrokerAdmin.from_settings(settings, timeout=PROVISIONING_SECONDS) as admin:
            admin.provision_devices([(d.device_id, d.password) for d in new])
        known += new
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump([{"device_id": d.device_id, "password": d.password,
                        "patient_index": d.patient_index} for d in known], out)
        print(f"provisioned {len(new)} devices at the broker in "
              f"{time.perf_counter() - began:.1f} s")
    return known[:n]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tablets", type=int, default=2000)
    parser.add_argument("--speed", type=float, default=86_400.0,
                        help="simulated seconds per real second")
    parser.add_argument("--seconds", type=float, default=30.0, help="real seconds to run")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    stack_dir = Path(os.environ.get("KOL_STACK_DIR", "/var/tmp/kol-stack"))
    os.environ.setdefault("KOL_ENV_FILE", str(stack_dir / "kol.env"))
    devices = _devices(stack_dir / "bench-fleet-devices.json", args.tablets)

    # The simulated period ends before now, so the clock is never held back by the wall clock.
    sim_days = int(args.seconds * args.speed / 86_400) + 2
    start = datetime.now(UTC) - timedelta(days=sim_days + 1)
    began = time.perf_counter()
    cohort = generate_cohort(n_patients=args.tablets, days=sim_days, seed=args.seed,
                             start=start)
    print(f"cohort: {args.tablets} patients × {sim_days} days, {len(cohort.readings)} readings, "
          f"generated in {time.perf_counter() - began:.2f} s")
    settings = get_settings()
    # No gateway receipts for broker-only devices: resending after 30 s would only measure the
    # missing receipts, so the receipt timeout is set beyond the run.
    params = replace(DEFAULT_TABLET, receipt_timeout_seconds=3600.0)
    fleet = Fleet(cohort=cohort, devices=devices, host=settings.mqtt_host,
                  port=settings.mqtt_port, tls=mqtt_context(settings), seed=args.seed,
                  params=params)
    try:
        report = fleet.run(start=start, speed=args.speed, duration=args.seconds,
                           progress=lambda moment, stats: print(
                               f"  simulated {moment:%Y-%m-%d %H:%M}Z: "
                               f"{sum(t.connected for t in fleet.tablets)} connected, "
                               f"{stats.batches_sent} batches, {stats.outstanding} awaiting "
                               f"PUBACK", flush=True),
                           progress_every=5.0)
    finally:
        fleet.close()
    print(report.summary())
    target_rate = report.stats.readings_sent / max(report.wall_seconds, 1e-9)
    print(f"RESULT tablets={report.tablets} speed={args.speed:g} "
          f"achieved_speed={report.achieved_speed:.0f} "
          f"publishes_per_s={report.publish_rate:.0f} readings_per_s={target_rate:.0f} "
          f"p99_lag_s={report.lag(0.99):.3f} kept_up={'yes' if report.kept_up else 'no'}")
    return 0 if report.kept_up else 1


if __name__ == "__main__":
    sys.exit(main())
