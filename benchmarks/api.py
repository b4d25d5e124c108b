"""API latency under load: a real ``kol-api`` process over a scratch database of 10 000
patients with 180 days of readings (3 a day: 5.4 M rows) and 50 000 alerts, driven open-loop at
a fixed request rate by asynchronous HTTP clients.

Prints, per endpoint (GET /api/v1/triage, GET /api/v1/patients/{id},
GET /api/v1/patients/{id}/measurements?bucket=1d over 90 days): requests, errors, achieved
throughput, p50/p99/max latency, and whether p99 < 50 ms was met.

Run from the repository root against the stack in ``KOL_ENV_FILE`` (a scratch database is
created and dropped)::

    python -m benchmarks.api [--patients 10000] [--rate 200] [--seconds 15]

The load generator shares the machine's cores with the API and PostgreSQL, and open-loop
latency includes any time a request waited for the client's own event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg

from benchmarks.scratch import scratch_database
from benchmarks.services import running_api
from core.access import SYSTEM
from core.settings import Settings, get_settings
from users import service as users_service
from users.schemas import UserCreate

TEAMS = 20
ALERTS = 50_000
DAYS = 180
P99_TARGET_MS = 50.0
IN_FLIGHT = 16
"""Requests (and connections) the load generator has in flight; more wait in the client, and
that wait is timed, as behind a proxy with a connection limit."""
PASSWORD = "benchmark password 1234"


def load(database_url: str, owner_url: str, *, patients: int, seed: int
         ) -> tuple[str, list[int]]:
    """Teams, patients (COPY), threshold version 1, readings (generated in the server: 5.4 M rows
    need not cross the socket), alerts (COPY), and a nurse of the first team. Returns the nurse's
    username and her patients' ids."""
    rng = random.Random(seed)
    with psycopg.connect(database_url, row_factory=psycopg.rows.dict_row) as conn:
        team_ids = [conn.execute("insert into teams (name) values (%s) returning id",
                                 (f"team-{i:02d}",)).fetchone()["id"]  # type: ignore[index]
                    for i in range(TEAMS)]
        with conn.cursor().copy("copy patients (display_name, team_id, profile, schedule)"
                                " from stdin") as copy:
            schedule = json.dumps({"days": ["mon", "thu"], "deadline": "12:00",
                                   "types": ["spo2", "pulse", "weight"]})
            for i in range(patients):
                copy.write_row((f"Patient {i}", team_ids[i % TEAMS], "kol-standard", schedule))
        conn.execute("insert into threshold_versions (patient_id, version, thresholds, reason)"
                     " select p.id, 1, f.thresholds, 'enrolment' from patients p"
                     " join profiles f on f.name = p.profile")
        conn.execute("insert into devices (device_id, patient_id, password_hash)"
                     " select 'bench-' || id, id, 'x' from patients")
        conn.execute(
            """
            insert into readings (patient_id, type, measured_at, value, device_id, msg_id)
            select p.id, t.type,
                   date_trunc('day', now()) - make_interval(days => d)
                       + make_interval(hours => 7, mins => ((p.id * 7 + d * 13) %% 180)::int),
                   t.base + random() * t.spread, 'bench-' || p.id, 'm-' || d
            from patients p
            cross join generate_series(0, %(days)s - 1) d
            cross join (values ('spo2', 91.0, 6.0), ('pulse', 65.0, 30.0),
                               ('weight', 70.0, 3.0)) t(type, base, spread)
            """, {"days": DAYS})
        now = datetime.now(UTC)
        ids = conn.execute("select id from patients order by id").fetchall()
        patient_ids = [r["id"] for r in ids]
        with conn.cursor().copy(
                "copy alerts (patient_id, rule, type, severity, status, opened_at,"
                " first_measured_at, last_measured_at, value, reason) from stdin") as copy:
            for i in range(ALERTS):
                opened = now - timedelta(minutes=rng.randrange(DAYS * 24 * 60))
                # About one alert in four is still unresolved, each with a rule of its own
                # (one unresolved alert per patient, rule and type).
                status = rng.choices(["resolved", "open", "acknowledged"], [75, 15, 10])[0]
                copy.write_row((rng.choice(patient_ids), f"bench-{i}",
                                rng.choice(["spo2", "pulse", "weight"]),
                                rng.choice(["red", "yellow", "blue", "green"]), status, opened,
                                opened, opened, 88.0, "benchmark"))
        nurse = "bench-nurse"
        users_service.create_user(conn, viewer=SYSTEM, data=UserCreate(
            username=nurse, password=PASSWORD, role="nurse", teams=["team-00"]))
        team_patients = [r["id"] for r in conn.execute(
            "select id from patients where team_id = %s order by id",
            (team_ids[0],)).fetchall()]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        # As autovacuum would have by now: statistics, and the visibility map for index-only scans
        # (as the tables' owner: the services' role may not vacuum).
        conn.execute("vacuum analyze")
    return nurse, team_patients


async def drive(base_url: str, token: str, paths: list[str], *, rate: float,
                seconds: float, warmup: float) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``seconds`` (open loop: each is due at its time
    whether or not earlier ones have answered), cycling through ``paths``, after 50 sent one
    at a time (``unloaded_p50``) and ``warmup`` seconds at the rate that are not counted (every
    pooled connection's first requests load the chunks' catalog entries and prepare the
    statements). Timeouts count as errors; they are long (120 s) because a client that gives up
    makes the server cancel the request mid-way (see docs/api-design.md)."""
    latencies: list[float] = []
    errors = 0
    # IN_FLIGHT clients of one connection each, taken in turn (like as many nurses' browsers):
    # one client's pool would keep reusing its few busiest connections, and the server spreads
    # load over its workers by connection.
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(IN_FLIGHT):
            idle.put_nowait(await stack.enter_async_context(httpx.AsyncClient(
                base_url=base_url, timeout=120, limits=httpx.Limits(max_connections=1),
                headers={"Authorization": f"Bearer {token}"})))

        async def one(path: str, due: float | None = None) -> None:
            # Latency counts from when the request was due, so time spent waiting for a free
            # connection while the server falls behind is included (no coordinated omission).
            nonlocal errors
            started = time.perf_counter() if due is None else due
            client = await idle.get()
            try:
                response = await client.get(path)
                if response.status_code != 200:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            finally:
                idle.put_nowait(client)
            latencies.append(time.perf_counter() - started)

        async def at_rate(total: int) -> float:
            start = time.perf_counter()
            tasks = []
            for i in range(total):
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(paths[i % len(paths)], due)))
            await asyncio.gather(*tasks)
            return time.perf_counter() - start

        for path in paths[:50]:  # one at a time: the unloaded latency
            await one(path)
        unloaded = float(np.median(latencies) * 1000)
        await at_rate(int(rate * warmup))
        latencies.clear()
        errors = 0
        total = int(rate * seconds)
        wall = await at_rate(total)
    ms = np.asarray(latencies) * 1000
    return {"requests": total, "errors": errors, "throughput": total / wall,
            "unloaded_p50": unloaded,
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "max": float(ms.max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds at the rate before measuring, not counted")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    settings: Settings = get_settings()
    # The scratch database is the owner's (it creates and migrates it); the API uses the
    # services' role, as in production.
    with scratch_database(settings, "api") as (database_url, owner_url):
        started = time.perf_counter()
        nurse, patient_ids = load(database_url, owner_url, patients=args.patients, seed=args.seed)
        print(f"loaded {args.patients} patients, {args.patients * DAYS * 3} readings, "
              f"{ALERTS} alerts in {time.perf_counter() - started:.1f} s", flush=True)
        log_path = Path(tempfile.gettempdir()) / f"kol-bench-api-{os.getpid()}.log"
        print(f"kol-api log: {log_path}")
        with running_api(settings, database_url, log_path) as base_url:
            login = {"username": nurse, "password": PASSWORD}
            token = httpx.post(f"{base_url}/api/v1/auth/token", data=login).json()["access_token"]
            rng = random.Random(args.seed)
            sample = [rng.choice(patient_ids) for _ in range(500)]
            since = (datetime.now(UTC) - timedelta(days=90)).isoformat()
            scenarios = {
                "GET /api/v1/triage": ["/api/v1/triage"],
                "GET /api/v1/patients/{id}": [f"/api/v1/patients/{p}" for p in sample],
                "GET /api/v1/patients/{id}/measurements?bucket=1d (90 days)": [
                    f"/api/v1/patients/{p}/measurements?bucket=1d&from={since.replace('+', '%2B')}"
                    for p in sample],
            }
            print(f"{args.rate:.0f} req/s offered for {args.seconds:.0f} s per endpoint (after "
                  f"{args.warmup:.0f} s not counted), as a nurse of one team "
                  f"({len(patient_ids)} of {args.patients} patients); kol-api with "
                  f"{settings.api_workers} workers, triage cache "
                  f"{settings.triage_cache_seconds:g} s")
            print(f"{'endpoint':<62} {'alone':>6} {'req':>6} {'err':>4} {'req/s':>7} {'p50 ms':>7} "
                  f"{'p99 ms':>7} {'max ms':>7}  p99<{P99_TARGET_MS:.0f}ms")
            met = True
            for name, paths in scenarios.items():
                r = asyncio.run(drive(base_url, token, paths, rate=args.rate, seconds=args.seconds,
                                      warmup=args.warmup))
                ok = r["p99"] < P99_TARGET_MS and r["errors"] == 0
                met &= ok
                print(f"{name:<62} {r['unloaded_p50']:>6.1f} {r['requests']:>6} "
                      f"{r['errors']:>4} {r['throughput']:>7.1f} {r['p50']:>7.1f} "
                      f"{r['p99']:>7.1f} {r['max']:>7.1f}  {'yes' if ok else 'NO'}", flush=True)
            print(f"p99 < {P99_TARGET_MS:.0f} ms on every endpoint: {'yes' if met else 'no'}")
            return 0

if __name__ == "__main__":
    sys.exit(main())
