"""Clustered MQTT brokers measured on this machine (docs/broker-evaluation.md): a 3-node NATS
JetStream cluster with its MQTT listener and a 3-node RabbitMQ cluster with rabbitmq_mqtt
(Debian 12's packages, both MQTT 3.1.1 only), and one Mosquitto node for comparison. Each
runs in network namespaces of its own (hosts n1..n3 and a client host on a bridge) and is
measured for

- per-device authorization: a device publishes at QoS 1 to its own topic and to another
  device's; what is delivered, acknowledged, and whether the connection is closed;
- delivery on node loss: one device publishing 200 QoS 1 messages/s for 20 s (persistent
  session), one consumer with a persistent QoS 1 subscription on another node; 5 s in, the
  consumer's node, then (a second run) the publisher's node is lost (its processes killed and
  its link cut) and the client moves to another node; counted, up to 90 s after the last
  publish: acknowledged to the publisher but never delivered (lost), never acknowledged,
  delivered twice (doubled), and the longest pause in acknowledgements and deliveries from the
  loss on;
- throughput: four devices publishing QoS 1 (at most 1 000 unacknowledged each) to a consumer
  on another node for a fixed time; messages/s delivered and the brokers' CPU-seconds per
  100 000 messages (one Python client process drives and counts, so the rate is bounded by it
  on two cores; the CPU cost is the engine's own).

    python -m benchmarks.broker_clusters [--engines nats rabbitmq mosquitto] [--seconds 10]

Root only (network namespaces). KOL_EV_PREFIX (default "kolev"), KOL_EV_SUBNET ("10.213.11")
and KOL_EV_DIR ("/var/tmp/kol-ev") keep it apart from other runs; it removes only what it
made.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

PREFIX = os.environ.get("KOL_EV_PREFIX", "kolev")
SUBNET = os.environ.get("KOL_EV_SUBNET", "10.213.11")
STATE = Path(os.environ.get("KOL_EV_DIR", "/var/tmp/kol-ev"))
NODES = ("n1", "n2", "n3")
HOSTS = {"n1": f"{SUBNET}.1", "n2": f"{SUBNET}.2", "n3": f"{SUBNET}.3", "c": f"{SUBNET}.10"}
MQTT_PORT = 1883
DEVICES = ("dev1", "dev2", "dev3", "dev4")
TOPIC = "kol/v1/d/{}/readings"
PAYLOAD_BYTES = 300
"""About a tablet's batch of a few readings."""
LOSS_RATE = 200
GATEWAY = "kol-gateway"
MOSQUITTO = Path(os.environ.get("MOSQUITTO_PREFIX", "/opt/kol/mosquitto-2.0.21"),
                 "sbin", "mosquitto")
"""The platform's broker (deploy/install.sh builds it from Debian's newer source)."""


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def run(*cmd: str, check: bool = True, stdin: str | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, text=True, capture_output=True, input=stdin,
                          env=env)


def in_ns(host: str, cmd: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns(host), *cmd]


def secret() -> str:
    return os.urandom(12).hex()


# --- the network --------------------------------------------------------------------------
def network_up() -> None:
    sw = ns("sw")
    run("ip", "netns", "add", sw)
    run("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
    run("ip", "-n", sw, "link", "set", "br0", "up")
    hosts_file = "127.0.0.1 localhost\n" + "".join(
        f"{address} {ns(host)}\n" for host, address in HOSTS.items())
    for host, address in HOSTS.items():
        run("ip", "netns", "add", ns(host))
        # ip netns exec mounts /etc/netns/NAME/hosts on /etc/hosts: the Erlang nodes' names.
        etc = Path("/etc/netns") / ns(host)
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text(hosts_file)
        run("ip", "-n", sw, "link", "add", f"v-{host}", "type", "veth", "peer", "name", "eth0",
            "netns", ns(host))
        run("ip", "-n", sw, "link", "set", f"v-{host}", "master", "br0", "up")
        run("ip", "-n", ns(host), "addr", "add", f"{address}/24", "dev", "eth0")
        run("ip", "-n", ns(host), "link", "set", "eth0", "up")
        run("ip", "-n", ns(host), "link", "set", "lo", "up")


def ns_pids(host: str) -> list[int]:
    listed = run("ip", "netns", "pids", ns(host), check=False).stdout.split()
    return [int(p) for p in listed]


def kill_ns(host: str) -> None:
    for pid in ns_pids(host):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def network_down() -> None:
    existing = run("ip", "netns", "list", check=False).stdout.split()
    for host in [*HOSTS, "sw"]:
        if ns(host) in existing:
            kill_ns(host)
            run("ip", "netns", "del", ns(host), check=False)
        shutil.rmtree(Path("/etc/netns") / ns(host), ignore_errors=True)


def cpu_seconds(hosts: Sequence[str]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for host in hosts:
        for pid in ns_pids(host):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def wait_tcp(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        probe = f"exec 3<>/dev/tcp/{HOSTS[host]}/{port}"
        if run(*in_ns("c", ["bash", "-c", probe]), check=False).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f} s")


# --- MQTT clients -------------------------------------------------------------------------
class Peer:
    """An MQTT 3.1.1 client that, when its node is lost, reconnects to the next one (as a
    client behind a load balancer would), keeping its session (clean session false)."""

    def __init__(self, client_id: str, user: str, password: str, hosts: Sequence[str],
                 *, subscribe: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=False, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(100)
        self.client.connect_timeout = 3.0
        self.hosts = list(hosts)
        self.at = 0
        self.subscribe = subscribe
        self.connected = threading.Event()
        self.stopping = threading.Event()
        self.acked: set[int] = set()
        self.mids: dict[int, int] = {}
        self.early: set[int] = set()
        self.received: Counter[int] = Counter()
        self.disconnects = 0
        self.last_at = 0.0
        self.ack_times: list[float] = []
        self.receive_times: list[float] = []
        self.lock = threading.Lock()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if not rc.is_failure:
            if self.subscribe:
                client.subscribe(self.subscribe, qos=1)
            self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any) -> None:
        self.connected.clear()
        self.disconnects += 1

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
        # Called under paho's own lock: take ours only for the bookkeeping (see publish).
        with self.lock:
            seq = self.mids.pop(mid, None)
            self.ack_times.append(time.monotonic())
            if seq is None:
                self.early.add(mid)
            else:
                self.acked.add(seq)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.received[int(msg.payload.split(b" ", 1)[0])] += 1
        self.last_at = time.monotonic()
        self.receive_times.append(self.last_at)

    def _run(self) -> None:
        first = True
        while not self.stopping.is_set():
            if self.client.loop(0.05) == mqtt.MQTT_ERR_SUCCESS:
                continue
            self.connected.clear()
            if not first:
                self.at += 1
            first = False
            host = self.hosts[self.at % len(self.hosts)]
            try:
                self.client.connect(host, MQTT_PORT, keepalive=5)
            except OSError:
                time.sleep(0.3)

    def publish(self, topic: str, seq: int) -> None:
        payload = f"{seq} ".encode().ljust(PAYLOAD_BYTES, b".")
        # Not under our lock: the loop thread calls on_publish holding paho's lock, and
        # publish takes paho's lock; the acknowledgement may come before the mid is noted.
        info = self.client.publish(topic, payload, qos=1)
        with self.lock:
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.acked.add(seq)
            else:
                self.mids[info.mid] = seq

    def outstanding(self) -> int:
        with self.lock:
            return len(self.mids)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.client.disconnect()


def quiet(peer: Peer, seconds: float, limit: float) -> None:
    """Until the peer has received nothing new for some seconds (or the limit)."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = sum(peer.received.values())
        if total != last:
            last, since = total, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.2)


# --- engines ------------------------------------------------------------------------------
@dataclass
class Engine:
    name: str
    nodes: tuple[str, ...]
    passwords: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    provision_seconds: float = 0.0

    def dir(self, node: str) -> Path:
        path = STATE / self.name / node
        path.mkdir(parents=True, exist_ok=True)
        return path

    def spawn(self, node: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        log = (STATE / self.name / f"{node}.log").open("ab")
        # In the node's directory: a crashing Erlang node writes its dump there.
        self.procs[node] = subprocess.Popen(in_ns(node, cmd), stdout=log, stderr=log,
                                            start_new_session=True, cwd=self.dir(node),
                                            env={**os.environ, **(env or {})})

    def up(self) -> None:
        raise NotImplementedError

    def start(self, node: str) -> None:
        raise NotImplementedError

    def provision(self, devices: Sequence[str]) -> None:
        raise NotImplementedError

    def ready(self, node: str, timeout: float) -> None:
        """Until the gateway account can connect to the node's MQTT listener."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-{node}",
                                protocol=mqtt.MQTTv311)
            probe.username_pw_set(GATEWAY, self.passwords[GATEWAY])
            try:
                probe.connect(HOSTS[node], MQTT_PORT, keepalive=5)
                done = time.monotonic() + 3
                while not probe.is_connected() and time.monotonic() < done:
                    probe.loop(0.1)
                if probe.is_connected():
                    probe.disconnect()
                    return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"{self.name} {node}: MQTT not ready within {timeout:.0f} s")

    def lose(self, node: str) -> None:
        """The host is lost: off the network, every process killed."""
        run("ip", "-n", ns(node), "link", "set", "eth0", "down")
        kill_ns(node)

    def back(self, node: str) -> None:
        run("ip", "-n", ns(node), "link", "set", "eth0", "up")
        self.start(node)

    def down(self) -> None:
        for node in self.nodes:
            kill_ns(node)


class Nats(Engine):
    def config(self, node: str) -> str:
        base = self.dir(node)
        users: list[dict[str, Any]] = [{"user": GATEWAY, "password": self.passwords[GATEWAY]}]
        for device in DEVICES:
            if device in self.passwords:
                own = f"kol.v1.d.{device}.>"
                users.append({"user": device, "password": self.passwords[device],
                              "permissions": {"publish": {"allow": [own]},
                                              "subscribe": {"allow": [own]}}})
        routes = [f"nats-route://{HOSTS[n]}:6222" for n in self.nodes]
        return "\n".join([
            f"server_name: {node}", f'listen: "{HOSTS[node]}:4222"',
            f'jetstream {{ store_dir: "{base}/js" }}',
            f'cluster {{ name: kolev, listen: "{HOSTS[node]}:6222",'
            f" routes: {json.dumps(routes)} }}",
            f'mqtt {{ listen: "{HOSTS[node]}:{MQTT_PORT}" }}',
            f"accounts {{ KOL {{ jetstream: enabled, users: {json.dumps(users)} }} }}"]) + "\n"

    def start(self, node: str) -> None:
        conf = self.dir(node) / "nats.conf"
        conf.write_text(self.config(node))
        self.spawn(node, ["nats-server", "-c", str(conf)])

    def up(self) -> None:
        self.passwords[GATEWAY] = secret()
        for node in self.nodes:
            self.start(node)
        for node in self.nodes:
            self.ready(node, 90)

    def provision(self, devices: Sequence[str]) -> None:
        # Users are configuration: every node's file rewritten and reloaded (SIGHUP).
        for device in devices:
            self.passwords[device] = secret()
        for node in self.nodes:
            (self.dir(node) / "nats.conf").write_text(self.config(node))
            self.procs[node].send_signal(signal.SIGHUP)


class Rabbit(Engine):
    def env(self, node: str) -> dict[str, str]:
        base = self.dir(node)
        return {"HOME": str(STATE / self.name / "home"),
                "RABBITMQ_NODENAME": f"rabbit@{ns(node)}",
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
                "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_PID_FILE": str(base / "rabbit.pid"),
                # Not Debian's /etc/rabbitmq/rabbitmq-env.conf: it binds epmd and the
                # distribution to 127.0.0.1, and the nodes talk over the bridge.
                "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf")}

    def ctl(self, *args: str, node: str = "n1", stdin: str | None = None) -> str:
        # Not /usr/sbin/rabbitmqctl: Debian's wrapper becomes the rabbitmq user, whose cookie
        # is not this cluster's.
        cmd = in_ns(node, ["/usr/lib/rabbitmq/bin/rabbitmqctl", "-q", "-n", f"rabbit@{ns(node)}",
                           *args])
        return run(*cmd, env={**os.environ, **self.env(node)}, stdin=stdin).stdout

    def start(self, node: str) -> None:
        base = self.dir(node)
        peers = "".join(f"cluster_formation.classic_config.nodes.{i} = rabbit@{ns(n)}\n"
                        for i, n in enumerate(self.nodes, 1))
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {HOSTS[node]}:5672\n"
            f"mqtt.listeners.tcp.default = {HOSTS[node]}:{MQTT_PORT}\n"
            "mqtt.allow_anonymous = false\n"
            "cluster_formation.peer_discovery_backend = classic_config\n" + peers +
            "vm_memory_high_watermark.absolute = 768MB\ndisk_free_limit.absolute = 50MB\n"
            "loopback_users = none\n")
        (base / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        (base / "rabbitmq-env.conf").write_text("# the defaults: epmd on every address\n")
        self.spawn(node, ["/usr/lib/rabbitmq/bin/rabbitmq-server"], self.env(node))

    def up(self) -> None:
        home = STATE / self.name / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        cookie.write_text(secret())
        cookie.chmod(0o400)
        self.start(self.nodes[0])
        self.await_node(self.nodes[0])
        for node in self.nodes[1:]:
            self.start(node)
        for node in self.nodes[1:]:
            self.await_node(node)
        self.passwords[GATEWAY] = secret()
        self.ctl("add_user", GATEWAY, stdin=self.passwords[GATEWAY] + "\n")
        self.ctl("set_permissions", "-p", "/", GATEWAY, ".*", ".*", ".*")
        # Without mirroring a session's queue lives on one node and dies with it: mirror the
        # MQTT subscriptions' queues on every node (classic mirrored queues, 3.10's way).
        self.ctl("set_policy", "-p", "/", "--apply-to", "queues", "mqtt-ha",
                 "^mqtt-subscription-", '{"ha-mode":"all","ha-sync-mode":"automatic"}')
        for node in self.nodes:
            self.ready(node, 90)

    def await_node(self, node: str) -> None:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                self.ctl("await_startup", "--timeout", "10", node=node)
                return
            except subprocess.CalledProcessError:
                time.sleep(1)
        raise RuntimeError(f"rabbitmq {node} did not start")

    def provision(self, devices: Sequence[str]) -> None:
        for device in devices:
            self.passwords[device] = secret()
            own = rf"^kol\.v1\.d\.{device}\."
            self.ctl("add_user", device, stdin=self.passwords[device] + "\n")
            queue = rf"^(amq\.topic|mqtt-subscription-{device}.*)$"
            self.ctl("set_permissions", "-p", "/", device, queue, queue, queue)
            self.ctl("set_topic_permissions", "-p", "/", device, "amq.topic", own, own)


class Mosquitto(Engine):
    def start(self, node: str) -> None:
        base = self.dir(node)
        (base / "mosquitto.conf").write_text(
            f"listener {MQTT_PORT} {HOSTS[node]}\nallow_anonymous false\n"
            f"password_file {base}/passwd\nacl_file {base}/acl\npersistence false\n"
            # The platform's queue limits (deploy/mosquitto/write-config.sh): the defaults drop
            # QoS 1 messages beyond 1000 queued for a slow consumer.
            "max_inflight_messages 10000\nmax_queued_messages 5000000\nmax_queued_bytes 0\n"
            # Started by root in a private directory: it must not drop to user mosquitto.
            "user root\n")
        self.spawn(node, [str(MOSQUITTO), "-c", str(base / "mosquitto.conf")])

    def write_accounts(self) -> None:
        base = self.dir(self.nodes[0])
        passwd = base / "passwd"
        passwd.write_text("")
        for user, password in self.passwords.items():
            run("mosquitto_passwd", "-b", str(passwd), user, password)
        (base / "acl").write_text(f"user {GATEWAY}\ntopic readwrite #\n"
                                  "pattern readwrite kol/v1/d/%u/#\n")

    def up(self) -> None:
        self.passwords[GATEWAY] = secret()
        self.write_accounts()
        self.start(self.nodes[0])
        self.ready(self.nodes[0], 30)

    def provision(self, devices: Sequence[str]) -> None:
        for device in devices:
            self.passwords[device] = secret()
        self.write_accounts()
        self.procs[self.nodes[0]].send_signal(signal.SIGHUP)


# --- measurements -------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def authorization(engine: Engine) -> dict[str, Any]:
    nodes = engine.nodes
    consumer = Peer("ev-authz-gw", GATEWAY, engine.passwords[GATEWAY],
                    [HOSTS[nodes[-1]]], subscribe="kol/v1/d/+/readings")
    device = Peer("ev-authz-dev1", "dev1", engine.passwords["dev1"], [HOSTS[nodes[0]]])
    try:
        assert consumer.connected.wait(30), "no consumer connection"
        assert device.connected.wait(30), "no device connection"
        time.sleep(1)
        device.publish(TOPIC.format("dev1"), 1)
        own_acked = wait_for(lambda: 1 in device.acked, 10)
        own_delivered = wait_for(lambda: consumer.received[1] > 0, 10)
        losses = device.disconnects
        device.publish(TOPIC.format("dev2"), 2)
        wait_for(lambda: 2 in device.acked or device.disconnects > losses, 5)
        time.sleep(2)
        return {"own topic": "delivered" if own_delivered else
                ("acked, not delivered" if own_acked else "refused"),
                "other device's topic": (
                    ("DELIVERED" if consumer.received[2] else "not delivered")
                    + (", acked" if 2 in device.acked else ", not acked")
                    + (", connection closed" if device.disconnects > losses else ""))}
    finally:
        device.stop()
        consumer.stop()


def node_loss(engine: Engine, victim: str) -> dict[str, Any]:
    """The publisher on n1, the consumer on n2; lose the one named, go on publishing."""
    tag = f"{victim}-{int(time.time())}"
    consumer = Peer(f"ev-loss-gw-{tag}", GATEWAY, engine.passwords[GATEWAY],
                    [HOSTS[n] for n in ("n2", "n3", "n1")], subscribe="kol/v1/d/dev1/readings")
    publisher = Peer(f"ev-loss-dev1-{tag}", "dev1", engine.passwords["dev1"],
                     [HOSTS[n] for n in ("n1", "n3", "n2")])
    lost_node = {"consumer": "n2", "publisher": "n1"}[victim]
    try:
        assert consumer.connected.wait(30), "no consumer connection"
        assert publisher.connected.wait(30), "no publisher connection"
        time.sleep(1)
        seq, began, lost, lost_at = 0, time.monotonic(), False, 0.0
        while time.monotonic() - began < 20:
            if not lost and time.monotonic() - began >= 5:
                engine.lose(lost_node)
                lost, lost_at = True, time.monotonic()
            seq += 1
            publisher.publish(TOPIC.format("dev1"), seq)
            time.sleep(max(0.0, began + seq / LOSS_RATE - time.monotonic()))
        # Long enough for an Erlang cluster to declare a lost host down (net_ticktime 60 s).
        wait_for(lambda: publisher.outstanding() == 0, 90)
        quiet(consumer, 5, 60)
        acked = publisher.acked
        delivered = set(consumer.received)
        return {"published": seq, "acked": len(acked), "delivered": len(delivered),
                "longest pause in acks s": longest_pause(publisher.ack_times, lost_at),
                "longest pause in deliveries s": longest_pause(consumer.receive_times, lost_at),
                "lost (acked, never delivered)": len(acked - delivered),
                "never acked": seq - len(acked),
                "doubled": sum(n - 1 for n in consumer.received.values() if n > 1),
                "client reconnects": consumer.disconnects + publisher.disconnects}
    finally:
        publisher.stop()
        consumer.stop()
        engine.back(lost_node)
        engine.ready(lost_node, 180)


def longest_pause(times: list[float], since: float) -> float:
    """The longest time without an event from the loss on (to the last event)."""
    after = [since, *(t for t in times if t >= since)]
    return round(max((b - a for a, b in zip(after, after[1:], strict=False)), default=0.0), 1)


def throughput(engine: Engine, seconds: float) -> dict[str, Any]:
    nodes = engine.nodes
    consumer = Peer(f"ev-tp-gw-{int(time.time())}", GATEWAY, engine.passwords[GATEWAY],
                    [HOSTS[nodes[-1]]], subscribe="kol/v1/d/+/readings")
    publishers = [Peer(f"ev-tp-{d}-{int(time.time())}", d, engine.passwords[d],
                       [HOSTS[nodes[i % len(nodes)]]]) for i, d in enumerate(DEVICES)]
    try:
        assert consumer.connected.wait(30), "no consumer"
        assert all(p.connected.wait(30) for p in publishers), "no publisher"
        time.sleep(1)
        cpu0, t0 = cpu_seconds(nodes), time.monotonic()
        seq = 0
        while time.monotonic() - t0 < seconds:
            for device, peer in zip(DEVICES, publishers, strict=True):
                if peer.outstanding() < 1000:
                    seq += 1
                    peer.publish(TOPIC.format(device), seq)
                else:
                    time.sleep(0.001)
        wait_for(lambda: all(p.outstanding() == 0 for p in publishers), 30)
        quiet(consumer, 2, 60)
        cpu = cpu_seconds(nodes) - cpu0
        elapsed = consumer.last_at - t0
        delivered = len(consumer.received)
        return {"published": seq, "delivered": delivered,
                "msgs/s delivered": round(delivered / elapsed),
                "broker CPU-s per 100k": round(cpu / max(delivered, 1) * 100_000, 1)}
    finally:
        for peer in publishers:
            peer.stop()
        consumer.stop()


ENGINES: dict[str, Callable[[], Engine]] = {
    "nats": lambda: Nats("nats", NODES),
    "rabbitmq": lambda: Rabbit("rabbitmq", NODES),
    "mosquitto": lambda: Mosquitto("mosquitto", ("n1",)),
}


def measure(name: str, seconds: float) -> dict[str, Any]:
    engine = ENGINES[name]()
    result: dict[str, Any] = {"engine": name}
    try:
        started = time.monotonic()
        engine.up()
        result["cluster up s"] = round(time.monotonic() - started, 1)
        started = time.monotonic()
        engine.provision(DEVICES)
        for node in engine.nodes:
            wait_for(lambda n=node: probe_device(engine, n), 60)  # type: ignore[misc]
        result["provision 4 devices s"] = round(time.monotonic() - started, 1)
        result["authorization"] = authorization(engine)
        result["throughput"] = throughput(engine, seconds)
        if len(engine.nodes) > 1:
            result["consumer's node lost"] = node_loss(engine, "consumer")
            result["publisher's node lost"] = node_loss(engine, "publisher")
    except Exception as exc:  # noqa: BLE001 - the figures so far and why it stopped
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        engine.down()
    return result


def probe_device(engine: Engine, node: str) -> bool:
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"probe-dev4-{node}",
                        protocol=mqtt.MQTTv311)
    probe.username_pw_set("dev4", engine.passwords["dev4"])
    try:
        probe.connect(HOSTS[node], MQTT_PORT, keepalive=5)
        done = time.monotonic() + 3
        while not probe.is_connected() and time.monotonic() < done:
            if probe.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                return False
        connected = probe.is_connected()
        probe.disconnect()
        return connected
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", choices=sorted(ENGINES),
                        default=["nats", "rabbitmq", "mosquitto"])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        # In the client host's namespace: the clients reach the nodes over the bridge.
        results = []
        for name in args.engines:
            print(f"--- {name}", flush=True)
            results.append(measure(name, args.seconds))
            print(json.dumps(results[-1], indent=1), flush=True)
        (STATE / "results.json").write_text(json.dumps(results, indent=1))
        return 0 if all("error" not in r for r in results) else 1
    if os.geteuid() != 0:
        print("run as root: it builds network namespaces")
        return 2
    network_down()
    if STATE.exists():
        shutil.rmtree(STATE)
    STATE.mkdir(mode=0o700, parents=True)
    network_up()
    try:
        return subprocess.run(in_ns("c", [sys.executable, "-m", "benchmarks.broker_clusters",
                                          "--inside", "--seconds", str(args.seconds),
                                          "--engines", *args.engines]), check=False).returncode
    finally:
        network_down()


if __name__ == "__main__":
    raise SystemExit(main())
