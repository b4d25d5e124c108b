"""Red reading published → message received: tablets publish red SpO2 readings over MQTT while
a background fleet publishes ordinary readings, and the real chain runs — ``kol-gateway`` (ingest
and the alert engine), the outbox trigger, ``kol-beat`` (the notification ticker every
``KOL_NOTIFY_TICK_SECONDS``) and ``kol-worker`` (delivery) — to a local SMTP server (aiosmtpd)
and a local HTTP SMS gateway. Prints p50/p99 of the time from the publish of each red reading
to the arrival of its e-mail and its SMS; target p99 < 30 s with the default policy (the
on-call nurse at once).

Run from the repository root against the stack in ``KOL_ENV_FILE`` (a scratch database and a
Redis database of its own are used, so a running demo is not disturbed)::

    python -m benchmarks.notifications [--teams 10] [--red 30] [--seconds 60]
        [--background-tablets 100] [--background-rate 1000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.ingest import Tablet
from benchmarks.scratch import scratch_database
from core.settings import Settings, get_settings
from core.tls import secure_mqtt
from devices.broker import BrokerAdmin
from gateway.service import end_session
from protocol.messages import encode_batch
from protocol.topics import device_topics
from simulators.receivers import SmsGatewaySink, SmtpSink

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_P99_S = 30.0


def _setup(settings: Settings, database_url: str, *, teams: int, red: int,
           background: int) -> tuple[list[Tablet], list[Tablet], dict[str, int]]:
    """Teams with an on-call nurse (e-mail and phone) around the clock, ``red`` patients spread
    over them, and ``background`` patients of a team nobody is notified for."""
    red_tablets = [Tablet(device_id=f"bn-red-{uuid.uuid4().hex[:10]}", password=uuid.uuid4().hex)
                   for _ in range(red)]
    bg_tablets = [Tablet(device_id=f"bn-bg-{uuid.uuid4().hex[:10]}", password=uuid.uuid4().hex)
                  for _ in range(background)]
    patient_of: dict[str, int] = {}
    with psycopg.connect(database_url) as conn:
        team_ids = []
        for i in range(teams + 1):
            row = conn.execute("insert into teams (name) values (%s) returning id",
                               (f"Bench hjemmepleje {i}",)).fetchone()
            assert row is not None
            team_ids.append(row[0])
        for i, team_id in enumerate(team_ids[:-1]):
            user = conn.execute(
                "insert into users (username, password_hash, role) values (%s, 'x', 'nurse')"
                " returning id", (f"bench-nurse-{i}",)).fetchone()
            assert user is not None
            conn.execute("insert into user_teams values (%s, %s)", (user[0], team_id))
            conn.execute("insert into notification_contacts (user_id, email, phone)"
                         " values (%s, %s, %s)",
                         (user[0], f"nurse{i}@bench.example", f"+4530{i:06d}"))
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "holiday"):
                conn.execute("insert into oncall_slots (team_id, user_id, role, day, starts, ends)"
                             " values (%s, %s, 'primary', %s, '00:00', '00:00')",
                             (team_id, user[0], day))
        for j, t in enumerate([*red_tablets, *bg_tablets]):
            team_id = team_ids[j % teams] if j < red else team_ids[-1]
            row = conn.execute(
                "insert into patients (display_name, team_id, profile, schedule)"
                " values (%s, %s, 'kol-standard', '{}') returning id", (t.device_id, team_id)
            ).fetchone()
            assert row is not None
            patient_of[t.device_id] = row[0]
            conn.execute("insert into threshold_versions (patient_id, version, thresholds, reason)"
                         " select %s, 1, thresholds, 'bench' from profiles"
                         " where name = 'kol-standard'", (row[0],))
            conn.execute("insert into devices (device_id, patient_id, password_hash)"
                         " values (%s, %s, 'bench')", (t.device_id, row[0]))
    with BrokerAdmin.from_settings(settings) as broker:
        broker.provision_devices([(t.device_id, t.password)
                                  for t in [*red_tablets, *bg_tablets]])
    return red_tablets, bg_tablets, patient_of


def _client(settings: Settings, tablet: Tablet) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=tablet.device_id,
                    protocol=mqtt.MQTTv5)
    c.username_pw_set(tablet.device_id, tablet.password)
    secure_mqtt(c, settings)
    c.max_inflight_messages_set(1000)
    c.connect(settings.mqtt_host, settings.mqtt_port, keepalive=60)
    c.loop_start()
    return c


def background(settings: Settings, tablets: list[Tablet], rate: float, seconds: float) -> None:
    """The fleet's load: ordinary SpO2 readings in batches of 10, ``rate`` readings/s."""
    clients = [_client(settings, t) for t in tablets]
    base = datetime.now(UTC) - timedelta(days=3)
    batches = rate / 10
    began = time.monotonic()
    n = 0
    while time.monotonic() - began < seconds:
        due = began + n / batches
        if (delay := due - time.monotonic()) > 0:
            time.sleep(delay)
        i, k = n % len(clients), n // len(clients)
        readings = [{"type": "spo2", "value": 93 + (k + j) % 4, "unit": "%",
                     "measured_at": (base + timedelta(seconds=10 * k + j)).isoformat()}
                    for j in range(10)]
        clients[i].publish(device_topics(tablets[i].device_id).readings,
                           encode_batch(f"bg-{k}", readings, sent_at=base.isoformat()), qos=1)
        n += 1
    for c in clients:
        c.disconnect()
        c.loop_stop()


def _redis_db(url: str, db: int) -> str:
    head, _, _ = url.rpartition("/")
    return f"{head}/{db}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=10)
    parser.add_argument("--red", type=int, default=30, help="red readings (one per patient)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="the red readings are spread over this time")
    parser.add_argument("--background-tablets", type=int, default=100)
    parser.add_argument("--background-rate", type=float, default=1000.0,
                        help="ordinary readings/s of the background fleet")
    args = parser.parse_args(argv)
    settings = get_settings()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    with scratch_database(settings, "ntf") as (database_url, _):
        return _run(args, settings, database_url)


def _run(args: argparse.Namespace, settings: Settings, database_url: str) -> int:
    smtp, sms = SmtpSink().start(), SmsGatewaySink().start()
    client_id = f"bench-ntf-gw-{uuid.uuid4().hex[:8]}"
    state = Path(tempfile.mkdtemp(prefix="kol-bench-ntf-"))
    env = {**os.environ, "KOL_DATABASE_URL": database_url,
           "KOL_REDIS_URL": _redis_db(settings.redis_url, 7), "KOL_STACK_DIR": str(state),
           "KOL_SMTP_HOST": "127.0.0.1", "KOL_SMTP_PORT": str(smtp.port),
           "KOL_SMS_GATEWAY_URL": sms.url + "/sms", "KOL_PUBLIC_URL": "https://kol.example.dk"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        red, bg, patient_of = _setup(settings, database_url, teams=args.teams, red=args.red,
                                     background=args.background_tablets)
        subprocess.run([str(BIN / "celery"), "-A", "worker.main", "purge", "-f"], env=env,
                       cwd=ROOT, check=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        procs.append(subprocess.Popen(
            [str(BIN / "kol-gateway"), "--client-id", client_id, "--metrics-port", "0",
             "--log-level", "WARNING"], cwd=ROOT, env=env, **quiet))  # type: ignore[call-overload]
        procs.append(subprocess.Popen([str(BIN / "kol-worker"), "--loglevel=WARNING"], cwd=ROOT,
                                      env=env, **quiet))  # type: ignore[call-overload]
        procs.append(subprocess.Popen([str(BIN / "kol-beat"), "--loglevel=WARNING"], cwd=ROOT,
                                      env=env, **quiet))  # type: ignore[call-overload]
        time.sleep(4.0)  # connected, subscribed, first beat

        load = mp.get_context("fork").Process(
            target=background, args=(settings, bg, args.background_rate, args.seconds + 10))
        load.start()
        clients = [_client(settings, t) for t in red]
        published: dict[int, float] = {}
        time.sleep(2.0)
        for i, (tablet, client) in enumerate(zip(red, clients, strict=True)):
            now = datetime.now(UTC)
            payload = encode_batch(f"red-{i}", [{"type": "spo2", "value": 80, "unit": "%",
                                                 "measured_at": now.isoformat()}],
                                   sent_at=now.isoformat())
            published[patient_of[tablet.device_id]] = time.time()
            client.publish(device_topics(tablet.device_id).readings, payload, qos=1)
            time.sleep(args.seconds / max(1, len(red)))
        smtp.wait_for(len(red), timeout=120)
        sms.wait_for(len(red), timeout=120)
        load.join()
        for c in clients:
            c.disconnect()
            c.loop_stop()

        with psycopg.connect(database_url) as conn:
            alert_patient: dict[int, int] = dict(conn.execute(
                "select id, patient_id from alerts where severity = 'red'").fetchall())
        results = {}
        for name, sink, header in (("e-mail (SMTP)", smtp, "x-kol-idempotency-key"),
                                   ("SMS (HTTP)", sms, "idempotency-key")):
            latencies = []
            for r in sink.unique:
                key = {k.lower(): v for k, v in r.headers.items()}[header]
                alert_id = int(key.split(":")[1])
                latencies.append(r.at - published[alert_patient[alert_id]])
            results[name] = np.asarray(latencies)
        everything = np.concatenate(list(results.values()))
        print(f"\n{len(red)} red readings over {args.seconds:.0f} s to {args.teams} teams,"
              f" background fleet {args.background_tablets} tablets at"
              f" {args.background_rate:,.0f} readings/s")
        for name, lat in results.items():
            if len(lat):
                print(f"  {name:<14} {len(lat):>3}/{len(red)} received;"
                      f" reading published -> received p50 {np.percentile(lat, 50):.2f} s,"
                      f" p99 {np.percentile(lat, 99):.2f} s, max {lat.max():.2f} s")
            else:
                print(f"  {name:<14}   0/{len(red)} received")
        complete = all(len(lat) == len(red) for lat in results.values())
        p99 = float(np.percentile(everything, 99)) if len(everything) else float("inf")
        met = complete and p99 < TARGET_P99_S
        print(f"  all messages   p99 {p99:.2f} s (target < {TARGET_P99_S:.0f} s):"
              f" {'met' if met else 'NOT met'}{'' if complete else ' (messages missing)'}")
        duplicates = sum(len(s.received) - len(s.unique) for s in (smtp, sms))
        print(f"  duplicates at the receivers: {duplicates}")
        return 0 if met else 1
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        end_session(settings, client_id)
        smtp.stop()
        sms.stop()


if __name__ == "__main__":
    sys.exit(main())
