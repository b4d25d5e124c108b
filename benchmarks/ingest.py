"""End-to-end ingest throughput: N simulated tablets publish to the real broker, the real
``kol-gateway`` stores into the real TimescaleDB, and every tablet times each batch from its
publish to its receipt (sent only after the commit, so an upper bound of publish → commit).

Prints, per scenario and number of gateways (one, and several in a shared group, side by side):
readings/s sustained end to end, p50/p99 publish-to-receipt latency, CPU seconds per million
readings for each component (gateways, broker, PostgreSQL, the simulated tablets), the readings/s
one core of platform carries at those costs, the cores each side kept busy, the machine's load
(``uptime``) before and after, and whether every reading was stored exactly once. With ``--pin``
it then runs each scenario once more with the platform on one CPU and the tablets on the other:
what one core of platform carries, measured.

Run from the repository root against the stack in ``KOL_ENV_FILE`` (a scratch database is
created and dropped)::

    python -m benchmarks.ingest --seconds 15 --gateways 1 3 --pin   # docs/operations.md "Sizing"
    python -m benchmarks.ingest [--tablets 100] [--seconds 20] [--scenario batch10 single]
                                [--gateways 1 3] [--late] [--pin]
    python -m benchmarks.ingest --profile   # gateway in-process, sampled: where the time goes

Tablets run in ``--publishers`` processes, their batches encoded before the clock starts (each
reading distinct; every receipt is waited for and timed); unpinned, on a small machine they
compete with the gateway, the broker and PostgreSQL for the same cores, which the figures include.
The tablets' CPU is counted from their first publish.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import paho.mqtt.client as mqtt
import psutil
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.scratch import scratch_database
from core.settings import Settings, get_settings
from core.tls import secure_mqtt
from devices.broker import BrokerAdmin
from gateway.service import end_session
from protocol.messages import encode_batch
from protocol.topics import device_topics

ROOT = Path(__file__).resolve().parents[1]

SCENARIOS = {"batch10": 10, "single": 1}
TARGET_READINGS_PER_S = {"batch10": 30_000, "single": 5_000}


@dataclass(frozen=True, slots=True, kw_only=True)
class Tablet:
    device_id: str
    password: str


def setup_fleet(settings: Settings, database_url: str, n: int) -> list[Tablet]:
    """Patients and devices in the scratch database, device clients at the broker."""
    tablets = [Tablet(device_id=f"bench-{uuid.uuid4().hex[:12]}", password=uuid.uuid4().hex)
               for _ in range(n)]
    with psycopg.connect(database_url) as conn:
        team = conn.execute("insert into teams (name) values (%s) returning id",
                            (f"bench-{uuid.uuid4().hex[:8]}",)).fetchone()
        assert team is not None
        for t in tablets:
            row = conn.execute(
                "insert into patients (display_name, team_id, profile, schedule)"
                " values (%s, %s, 'kol-standard', '{}') returning id", (t.device_id, team[0])
            ).fetchone()
            assert row is not None
            conn.execute("insert into devices (device_id, patient_id, password_hash)"
                         " values (%s, %s, 'bench')", (t.device_id, row[0]))
    with BrokerAdmin.from_settings(settings) as broker:
        broker.provision_devices([(t.device_id, t.password) for t in tablets])
    return tablets


Batch = tuple[int, str, str, bytes]
"""(tablet index, topic, msg_id, payload)."""


def encode_messages(tablets: list[Tablet], per_message: int, total: int, *, late: bool
                    ) -> list[Batch]:
    """The ``total`` batches that ``tablets``
    send in turn, encoded before the clock starts so that the simulated fleet spends its CPU on
    MQTT, as tablets do, not on making up readings. Every reading is distinct: each tablet's
    readings are a series ``step`` apart.

    Measured within the last 23 hours, so not ``late``; ``late``: 25 hours and more before now,
    every reading late (a fleet emptying its outboxes), which adds the late readings' notices
    (``ingest.schemas.LATE_READINGS_CHANNEL``) to the platform's work."""
    per_tablet = -(-total // len(tablets)) * per_message
    span = timedelta(hours=23)
    step = min(timedelta(seconds=1), span / per_tablet)
    # Never in the future, never too old (KOL_MAX_READING_AGE_DAYS), late or not as asked.
    first = datetime.now(UTC).replace(microsecond=0) - span - (timedelta(hours=26) if late
                                                                else timedelta(minutes=10))
    sent_at = first.isoformat()
    topics = [device_topics(t.device_id).readings for t in tablets]
    messages = []
    for n in range(total):
        i, k = n % len(tablets), n // len(tablets)
        readings = [{"type": "spo2", "value": 90 + (k + j) % 10, "unit": "%",
                     "measured_at": (first + (k * per_message + j) * step).isoformat()}
                    for j in range(per_message)]
        msg_id = f"t{i}-{k}"
        messages.append((i, topics[i], msg_id, encode_batch(msg_id, readings, sent_at=sent_at)))
    return messages


def publisher(settings: Settings, tablets: list[Tablet], messages: list[Batch], rate: float,
              start_at: float, cpu: int | None, out: Any) -> None:
    """One process: its tablets publish ``messages`` (QoS 1, each to its own topic) at ``rate``
    per second in total, open loop; then wait for the receipts. Puts (sent, publishing seconds,
    latencies, CPU seconds from the first publish on) on ``out``.

    One thread drives every tablet's connection (paho's external-loop calls): a loop thread per
    tablet, as paho's ``loop_start`` makes, costs more than the tablets' MQTT itself (the
    threads' wake-ups and contention for the interpreter), which is not what a tablet costs."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sent_at: dict[str, float] = {}
    latencies: list[float] = []

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        t0 = sent_at.pop(orjson.loads(msg.payload)["msg_id"], None)
        if t0 is not None:
            latencies.append(time.monotonic() - t0)

    subscribed: list[int] = []
    clients = []
    for t in tablets:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=t.device_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(t.device_id, t.password)
        secure_mqtt(c, settings)
        c.max_inflight_messages_set(1000)
        c.on_message = on_message
        c.on_connect = lambda c, u, f, r, p, t=t: c.subscribe(
            device_topics(t.device_id).receipts, qos=1)
        c.on_subscribe = lambda *_: subscribed.append(1)
        c.connect(settings.mqtt_host, settings.mqtt_port, keepalive=60)
        clients.append(c)
    sockets = {c.socket(): c for c in clients}
    housekeeping = time.monotonic()

    def pump(timeout: float) -> None:
        nonlocal housekeeping
        writable = [s for s, c in sockets.items() if c.want_write()]
        readable, writable, _ = select.select(list(sockets), writable, [], timeout)
        for sock in readable:
            client = sockets[sock]
            client.loop_read()
            # TLS may hold decrypted bytes that select() does not show.
            while getattr(sock, "pending", lambda: 0)():
                client.loop_read()
        for sock in writable:
            sockets[sock].loop_write()
        if time.monotonic() - housekeeping > 1.0:
            housekeeping = time.monotonic()
            for c in clients:
                c.loop_misc()  # keepalive

    while len(subscribed) < len(clients):
        pump(0.1)
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = time.process_time()
    t_start = time.monotonic()
    n = 0
    while n < len(messages):
        now = time.monotonic()
        due = t_start + n / rate
        if due > now:
            pump(due - now)
            continue
        while n < len(messages) and t_start + n / rate <= now:
            i, topic, msg_id, payload = messages[n]
            sent_at[msg_id] = time.monotonic()
            clients[i].publish(topic, payload, qos=1)
            n += 1
        pump(0.0)
    publish_seconds = time.monotonic() - t_start
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(latencies) < n:
        pump(0.1)
    cpu_used = time.process_time() - cpu0
    for c in clients:
        c.disconnect()
    out.put((n, publish_seconds, latencies, cpu_used))


def postgres_processes(settings: Settings) -> list[psutil.Process]:
    pid_file = settings.stack_dir / "pg" / "postmaster.pid"
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    return [postmaster, *postmaster.children()]


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    times = {}
    for p in procs:
        try:
            t = p.cpu_times()
            times[p.pid] = t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return times


def broker_process(settings: Settings) -> psutil.Process:
    return psutil.Process(int((settings.stack_dir / "mosquitto" / "mosquitto.pid").read_text()))


PINNED_OFFER = 1.8
"""Pinned runs offer this many times the target, to find the core's limit rather than the
target (unless --rate)."""
ALL_CPUS = set(range(os.cpu_count() or 1))
PLATFORM_CPU = 0
TABLETS_CPU = 1
"""With ``--pin``: the platform (gateways, broker, PostgreSQL) on one CPU, the simulated tablets
(and this process) on another."""


def pin(procs: list[psutil.Process], cpus: set[int]) -> None:
    """Every thread of ``procs`` (a process's threads keep the affinity they were made with)."""
    for p in procs:
        try:
            for thread in p.threads():
                os.sched_setaffinity(thread.id, cpus)
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass  # a PostgreSQL backend that has just ended


def busy(before: Any, after: Any) -> float:
    """The share of time a CPU was not idle between two ``psutil.cpu_times`` samples of it."""
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return 1.0 - idle / total if total else 0.0


def run_scenario(args: argparse.Namespace, settings: Settings, name: str,
                 gateways: int) -> dict[str, Any]:
    per_message = SCENARIOS[name]
    client_ids = [f"bench-gw-{uuid.uuid4().hex[:8]}" for _ in range(gateways)]
    running: list[subprocess.Popen[bytes]] = []
    # The scratch database is the owner's (it creates and migrates it); the gateway uses the
    # services' role, as in production.
    with scratch_database(settings, f"{name}_{gateways}") as (database_url, _):
        try:
            tablets = setup_fleet(settings, database_url, args.tablets)
            env = {**os.environ, "KOL_DATABASE_URL": database_url}
            rate = args.rate or TARGET_READINGS_PER_S[name] / per_message * (
                PINNED_OFFER if args.pin else 1.1)
            # Several gateways split the messages in one shared group, as deployed scaled out.
            group = ["--shared-group", f"bench-{client_ids[0]}"] if gateways > 1 else []
            if args.profile:
                profiler = InProcessGateway(settings, database_url, client_ids[0])
            else:
                running = [subprocess.Popen(
                    [os.path.join(os.path.dirname(sys.executable), "kol-gateway"), "--client-id",
                     client_id, *group, "--metrics-port", "0", "--log-level", "WARNING",
                     *([] if args.with_alerts else ["--no-alerts"])],
                    cwd=ROOT, env=env) for client_id in client_ids]
            time.sleep(2.0 + gateways)  # connected and subscribed
            gw_procs = [psutil.Process(g.pid) for g in running] or [psutil.Process()]
            pg_procs = postgres_processes(settings)
            broker = broker_process(settings)
            if args.pin:
                # New PostgreSQL backends are forked by the postmaster and inherit its CPU.
                pin([*gw_procs, *pg_procs, broker], {PLATFORM_CPU})
            out: Any = mp.get_context("fork").Queue()
            shares = [[tablets[i] for i in share]
                      for share in np.array_split(np.arange(len(tablets)), args.publishers)]
            batches = [encode_messages(share, per_message,
                                       int(rate / args.publishers * args.seconds), late=args.late)
                       for share in shares]
            start_at = time.time() + 2.0
            procs = [mp.get_context("fork").Process(
                target=publisher, args=(settings, share, messages, rate / args.publishers,
                                        start_at, TABLETS_CPU if args.pin else None, out))
                for share, messages in zip(shares, batches, strict=True)]
            for p in procs:
                p.start()
            # The platform's CPU from the first publish (the tablets have connected by then).
            time.sleep(max(0.0, start_at - time.time()))
            gw0, pg0, mq0 = cpu_seconds(gw_procs), cpu_seconds(pg_procs), cpu_seconds([broker])
            machine0 = psutil.cpu_times(percpu=True)
            results = [out.get() for _ in procs]
            machine1 = psutil.cpu_times(percpu=True)
            for p in procs:
                p.join()
            gw1, pg1 = cpu_seconds(gw_procs), cpu_seconds(postgres_processes(settings))
            mq1 = cpu_seconds([broker])
            sent = sum(r[0] for r in results)
            wall = max(r[1] for r in results) + max(max(r[2], default=0.0) for r in results)
            latencies = np.concatenate([np.asarray(r[2]) for r in results])
            with psycopg.connect(database_url) as conn:
                row = conn.execute("select count(*), count(distinct (device_id, msg_id))"
                                   " from readings").fetchone()
            assert row is not None
            stored, messages = int(row[0]), int(row[1])
            if args.profile:
                profiler.stop()
            readings = sent * per_message
            gw_cpu = sum(gw1.values()) - sum(gw0.values())
            pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
            mq_cpu = sum(mq1.values()) - sum(mq0.values())
            tablet_cpu = sum(r[3] for r in results)
            return {
                "scenario": name, "gateways": gateways, "tablets": len(tablets),
                "readings_per_message": per_message,
                "offered_readings_per_s": rate * per_message, "sent_messages": sent,
                "stored_readings": stored, "expected_readings": readings,
                "receipts": len(latencies), "distinct_messages": messages,
                "sustained_readings_per_s": stored / wall if wall else 0.0,
                "p50_ms": float(np.percentile(latencies, 50) * 1000) if len(latencies) else None,
                "p99_ms": float(np.percentile(latencies, 99) * 1000) if len(latencies) else None,
                "gateway_cpu_s_per_million": gw_cpu / readings * 1e6,
                "postgres_cpu_s_per_million": pg_cpu / readings * 1e6,
                "broker_cpu_s_per_million": mq_cpu / readings * 1e6,
                "tablets_cpu_s_per_million": tablet_cpu / readings * 1e6,
                "platform_cores_busy": (gw_cpu + pg_cpu + mq_cpu) / wall if wall else 0.0,
                "tablets_cores_busy": tablet_cpu / wall if wall else 0.0,
                "pinned": bool(args.pin),
                # All work on the platform's CPU, ours and other processes' alike.
                "platform_cpu_busy": busy(machine0[PLATFORM_CPU], machine1[PLATFORM_CPU]),
                "tablets_cpu_busy": busy(machine0[TABLETS_CPU], machine1[TABLETS_CPU]),
            }
        finally:
            if args.pin:
                pin([*postgres_processes(settings), broker_process(settings)], ALL_CPUS)
            for gateway in running:
                gateway.terminate()
            for gateway in running:
                gateway.wait(30)
            for client_id in client_ids:
                end_session(settings, client_id)


class InProcessGateway:
    """The gateway in this process with a sampling profiler over all its threads: counts, every
    few milliseconds, which of our functions (and which library call below them) is running."""

    def __init__(self, settings: Settings, database_url: str, client_id: str) -> None:
        from core.db import open_pool
        from gateway.service import Gateway, GatewayConfig, collect_less

        scratch = settings.model_copy(update={"database_url": database_url})
        self._pool = open_pool(scratch, name="bench-gateway", min_size=2, max_size=4)
        self._gateway = Gateway(settings=scratch, pool=self._pool, hand_off=lambda c: None,
                                config=GatewayConfig(client_id=client_id))
        collect_less()
        self._gateway.start()
        self._samples: collections.Counter[str] = collections.Counter()
        self._total = 0
        self._stop = threading.Event()
        self._me = threading.get_ident()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        own = {threading.get_ident(), self._me}
        while not self._stop.wait(0.005):
            for tid, frame in sys._current_frames().items():
                if tid in own:
                    continue
                stack = []
                f: Any = frame
                while f is not None:
                    stack.append(f"{Path(f.f_code.co_filename).name}:{f.f_code.co_name}")
                    f = f.f_back
                if any(s.startswith("threading.py:wait") for s in stack[:2]) or \
                        stack[0].startswith("selectors.py:select"):
                    continue  # idle
                self._total += 1
                self._samples[" < ".join(stack[:3])] += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        names = {t.native_id: t.name for t in threading.enumerate()}
        print("\nCPU seconds by thread of this process (gateway, sampler, pool workers):")
        for t in sorted(psutil.Process().threads(), key=lambda t: -(t.user_time + t.system_time)):
            if t.user_time + t.system_time > 0.05:
                print(f"  {t.user_time + t.system_time:7.2f}  {names.get(t.id, t.id)}")
        self._gateway.stop(end_session=True)
        self._pool.close()
        print(f"profile: {self._total} samples (5 ms) of the gateway's threads not waiting in"
              " Python; a C call that blocks (socket, queue) shows as its Python caller")
        for where, n in self._samples.most_common(25):
            print(f"  {100 * n / max(1, self._total):5.1f}%  {where}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tablets", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--rate", type=float, default=None,
                        help="batches/s offered (default: 110%% of the target)")
    parser.add_argument("--scenario", nargs="+", choices=list(SCENARIOS),
                        default=list(SCENARIOS))
    parser.add_argument("--gateways", nargs="+", type=int, default=[1, 3],
                        help="numbers of gateway processes to compare (several: one shared"
                             " group)")
    parser.add_argument("--with-alerts", action="store_true",
                        help="run the streaming alert evaluation in the gateway too")
    parser.add_argument("--profile", action="store_true",
                        help="run the gateway in this process under a sampling profiler")
    parser.add_argument("--late", action="store_true",
                        help="every reading measured more than a day ago (late: the platform"
                             " also sends the late readings' notices)")
    parser.add_argument("--pin", action="store_true",
                        help=f"after the side-by-side runs, run each scenario once more with one"
                             f" gateway and the platform (gateway, broker, PostgreSQL) pinned to"
                             f" CPU {PLATFORM_CPU}, the tablets to CPU {TABLETS_CPU}, offered"
                             f" {PINNED_OFFER} times the target: what one core of platform"
                             f" carries, measured")
    args = parser.parse_args()
    if args.pin and (args.profile or (os.cpu_count() or 1) < 2):
        parser.error("--pin needs two CPUs and the gateway in its own process (not --profile)")
    settings = get_settings()
    print(f"machine: {psutil.cpu_count()} cores; uptime: {uptime()}"
          " (other work on the machine depresses the figures)")
    ok = True
    rows = []
    runs = [(name, gateways, False) for name in args.scenario
            for gateways in ([1] if args.profile else args.gateways)]
    runs += [(name, 1, True) for name in args.scenario] if args.pin else []
    for name, gateways, pinned in runs:
        r = run_scenario(argparse.Namespace(**{**vars(args), "pin": pinned}), settings, name,
                         gateways)
        exact = r["stored_readings"] == r["expected_readings"] == \
            r["distinct_messages"] * r["readings_per_message"]
        ok &= exact
        rows.append((r, exact))
        report(r, exact)
    print(f"\nuptime at the end: {uptime()}")
    print("\nside by side (CPU seconds per million readings; per core: readings/s one core of"
          " platform would carry at these costs):")
    print(f"{'scenario':>9} {'gateways':>8} {'readings/s':>11} {'target':>7} {'p99 ms':>8}"
          f" {'gateways':>9} {'broker':>7} {'postgres':>9} {'tablets':>8} {'per core':>9}  stored")
    for r, exact in rows:
        if r["pinned"]:
            continue
        print(f"{r['scenario']:>9} {r['gateways']:>8} {r['sustained_readings_per_s']:>11,.0f}"
              f" {TARGET_READINGS_PER_S[r['scenario']]:>7,} {r['p99_ms'] or 0:>8.0f}"
              f" {r['gateway_cpu_s_per_million']:>9.1f} {r['broker_cpu_s_per_million']:>7.1f}"
              f" {r['postgres_cpu_s_per_million']:>9.1f} {r['tablets_cpu_s_per_million']:>8.1f}"
              f" {per_core(r):>9,.0f}  {'exact' if exact else 'MISMATCH'}")
    pinned = [(r, exact) for r, exact in rows if r["pinned"]]
    if pinned:
        print(f"\none core of platform, measured (gateway, broker and PostgreSQL pinned to CPU"
              f" {PLATFORM_CPU}, the tablets to CPU {TABLETS_CPU}):")
        print(f"  busy: the share of the run each used of its CPU; 'CPU {PLATFORM_CPU}': all work"
              f" on it, other processes' too. 'whole core': the rate scaled to the platform"
              f" having the whole core (1e6 / its CPU-s per 1M messages in this run); the"
              f" measured rate is one core's when CPU {PLATFORM_CPU} was the platform's alone")
        print(f"  offered {PINNED_OFFER} times the target (unless --rate); 'limit': the CPU"
              f" that held the rate back (over 90 % busy with all work), 'offer' if neither")
        print(f"{'scenario':>9} {'offered/s':>10} {'readings/s':>11} {'messages/s':>11}"
              f" {'p99 ms':>8} {'platform':>9} {f'CPU {PLATFORM_CPU}':>6} {'tablets':>8}"
              f" {'limit':>9} {'whole core msgs/s':>18}  stored")
        for r, exact in pinned:
            rate = r["sustained_readings_per_s"]
            messages = rate / r["readings_per_message"]
            whole = messages / r["platform_cores_busy"] if r["platform_cores_busy"] else 0.0
            limit = "platform" if r["platform_cpu_busy"] >= 0.9 else \
                "tablets" if r["tablets_cpu_busy"] >= 0.9 else "offer"
            print(f"{r['scenario']:>9} {r['offered_readings_per_s']:>10,.0f} {rate:>11,.0f}"
                  f" {messages:>11,.0f} {r['p99_ms'] or 0:>8.0f}"
                  f" {r['platform_cores_busy']:>9.0%} {r['platform_cpu_busy']:>6.0%}"
                  f" {r['tablets_cores_busy']:>8.0%} {limit:>9} {whole:>18,.0f}"
                  f"  {'exact' if exact else 'MISMATCH'}")
    return 0 if ok else 1


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def per_core(r: dict[str, Any]) -> float:
    """Readings/s that one core of platform (gateway, broker, PostgreSQL) carries at the CPU
    costs measured in ``r``."""
    platform = r["gateway_cpu_s_per_million"] + r["broker_cpu_s_per_million"] + \
        r["postgres_cpu_s_per_million"]
    return 1e6 / platform if platform else 0.0


def report(r: dict[str, Any], exact: bool) -> None:
    name = r["scenario"]
    target = TARGET_READINGS_PER_S[name]
    print(f"\n{name}, {r['gateways']} gateway(s){', pinned' if r['pinned'] else ''}:"
          f" {r['tablets']} tablets,"
          f" {r['readings_per_message']} reading(s)/batch,"
          f" offered {r['offered_readings_per_s']:,.0f} readings/s")
    print(f"  sustained end to end   {r['sustained_readings_per_s']:>10,.0f} readings/s"
          f"  (target {target:,}; ratio {r['sustained_readings_per_s'] / target:.2f})")
    print(f"  publish -> receipt     p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
          f"  ({r['receipts']:,} receipts)")
    print(f"  CPU per 1M readings    gateways {r['gateway_cpu_s_per_million']:.1f} s,"
          f" broker {r['broker_cpu_s_per_million']:.1f} s,"
          f" PostgreSQL {r['postgres_cpu_s_per_million']:.1f} s,"
          f" tablets {r['tablets_cpu_s_per_million']:.1f} s")
    print(f"  cores busy             platform {r['platform_cores_busy']:.2f},"
          f" tablets {r['tablets_cores_busy']:.2f}")
    print(f"  stored                 {r['stored_readings']:,} of {r['expected_readings']:,}"
          f" -> {'exact (0 lost, 0 doubled)' if exact else 'MISMATCH'}")


if __name__ == "__main__":
    sys.exit(main())
