"""A multi-host platform on this machine: network namespaces joined by a bridge, each host
running its share of the tiers as deploy/ha/layout.toml lays them out for real hosts (the
hosts and their services are read from that file, the commands from deploy/ha/systemd/, the
configuration rendered from deploy/ha/'s templates):

    kolha-h1  10.213.7.1    etcd · Patroni+PostgreSQL/TimescaleDB · Mosquitto · 2 gateways · API
                            · beat · Sentinel
    kolha-h2  10.213.7.2    the same as h1 without Sentinel
    kolha-h3  10.213.7.3    etcd · Redis · Sentinel · HAProxy · keepalived
    kolha-h4  10.213.7.4    Redis · Sentinel · HAProxy · keepalived
              10.213.7.100  the floating address (keepalived): HAProxy for the API (:8443 by
                            /readyz), MQTT (:8883) and Redis (:6379, the master)
    kolha-c   10.213.7.10   the clients: tablets and a polling dashboard

KOL_HA_PREFIX, KOL_HA_SUBNET and KOL_HA_DIR move the namespaces, their /24 and the state
directory, so that two runs on one machine do not meet.

Every listener is TLS with the stack's local CA (deploy/tls.sh), the database as in
deploy/stack.sh: passwords only, owner for migrations, the services' role for data; secrets in
0600 files in a 0700 directory, never on a command line. Everything runs in namespaces this
module creates and is ended by :meth:`Topology.down`, also after a failure.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from tests.stack import ROOT

LAYOUT = tomllib.loads((ROOT / "deploy" / "ha" / "layout.toml").read_text())
PREFIX = os.environ.get("KOL_HA_PREFIX", "kolha")
SUBNET = os.environ.get("KOL_HA_SUBNET", "10.213.7")
STATE = Path(os.environ.get("KOL_HA_DIR", "/var/tmp/kol-ha"))


def on_subnet(address: str) -> str:
    """A layout address moved onto this run's subnet (its last byte kept)."""
    return f"{SUBNET}.{address.rsplit('.', 1)[1]}"


SERVICES: dict[str, list[str]] = {h: v["services"] for h, v in LAYOUT["hosts"].items()}
HOSTS = {**{h: on_subnet(v["address"]) for h, v in LAYOUT["hosts"].items()}, "c": f"{SUBNET}.10"}
FLOATING = on_subnet(LAYOUT["floating"]["address"])


def hosts_running(service: str) -> tuple[str, ...]:
    return tuple(h for h, services in SERVICES.items() if service in services)


ETCD_HOSTS = hosts_running("etcd")
DB_HOSTS = hosts_running("patroni")
BROKER_HOSTS = hosts_running("mosquitto")
API_HOSTS = hosts_running("kol-api")
BEAT_HOSTS = hosts_running("kol-beat")
LB_HOSTS = hosts_running("haproxy")
REDIS_HOSTS = hosts_running("redis-server")
SENTINEL_HOSTS = hosts_running("redis-sentinel")
GATEWAYS = tuple((h, s.split("@", 1)[1]) for h, services in SERVICES.items() for s in services
                 if s.startswith("kol-gateway@"))
"""(host, broker host) of every gateway."""
BACKUP_HOST = hosts_running("wal-archive")[0]
STACK_USER = os.environ.get("KOL_STACK_USER", "kol")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MOSQUITTO_PREFIX = Path(os.environ.get("MOSQUITTO_PREFIX", "/opt/kol/mosquitto-2.0.21"))
VENV_BIN = Path(sys.executable).parent
PORTS: dict[str, int] = LAYOUT["ports"]
MQTT_PORT, MQTT_WS_PORT, API_PORT, PG_PORT = (PORTS["mqtt"], PORTS["mqtt_ws"], PORTS["api"],
                                              PORTS["postgres"])
REDIS_PORT, SENTINEL_PORT = PORTS["redis"], PORTS["sentinel"]


def render(name: str, values: dict[str, str]) -> str:
    """A configuration file of deploy/ha/ with this topology's values: the test runs what an
    operator deploys."""
    return Template((ROOT / "deploy" / "ha" / name).read_text()).substitute(values)


def unit_source(unit: str, host: str) -> str:
    """A unit of deploy/ha/systemd/ as systemd runs it on a host (%i its instance, %H the
    host)."""
    name, _, instance = unit.partition("@")
    text = (ROOT / "deploy" / "ha" / "systemd" / f"{name}@.service" if instance else
            ROOT / "deploy" / "ha" / "systemd" / f"{name}.service").read_text()
    return text.replace("%i", instance).replace("%H", host)


def unit_settings(text: str, *keys: str) -> dict[str, str]:
    """The first value of each of ``keys`` (ExecStart, Environment, ...) in a unit's text."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in keys:
            found.setdefault(key, value)
    return found


def unit_text(unit: str, host: str) -> str:
    """A unit of deploy/ha/systemd/ for a host, with the operator's paths moved into this run's
    state: /opt/kol/.venv/bin is this virtualenv, /etc/kol the host's etc directory,
    /var/lib/kol its state directory."""
    text = unit_source(unit, host).replace("/opt/kol/.venv/bin", str(VENV_BIN))
    text = text.replace("/etc/kol", str(STATE / host / "etc"))
    return text.replace("/var/lib/kol", str(STATE / host))


def unit_command(unit: str, host: str) -> tuple[list[str], Path | None]:
    """The ExecStart of a unit on a host, and the settings file it names (KOL_ENV_FILE)."""
    lines = unit_settings(unit_text(unit, host), "ExecStart", "Environment")
    env_file = lines.get("Environment", "").removeprefix("KOL_ENV_FILE=")
    return shlex.split(lines["ExecStart"]), Path(env_file) if env_file else None


def python_env(**extra: str) -> dict[str, str]:
    """The environment of a command of this checkout (its code first on the path)."""
    return {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT), **extra}


def env_file_values(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines()
                if line and not line.startswith("#"))


def ns(host: str) -> str:
    return f"{PREFIX}-{host}"


def run(*cmd: str, check: bool = True, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, text=True, capture_output=True, env=env,
                          input=stdin)


def in_ns(host: str, cmd: Sequence[str], *, user: str | None = None) -> list[str]:
    prefix = ["ip", "netns", "exec", ns(host)]
    if user:
        prefix += ["runuser", "-u", user, "--"]
    return [*prefix, *cmd]


def write_private(path: Path, text: str, *, owner: str | None = None) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    if owner:
        shutil.chown(path, owner, owner)
    return path


def wait_tcp(host: str, port: int, timeout: float = 60.0) -> None:
    """Wait for a listener inside the namespaces (a probe from the client host)."""
    deadline = time.monotonic() + timeout
    probe = f"exec 3<>/dev/tcp/{HOSTS[host]}/{port}"
    while time.monotonic() < deadline:
        if run(*in_ns("c", ["bash", "-c", probe]), check=False).returncode == 0:
            return
        time.sleep(0.3)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f} s")


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``ready`` until it holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.3)


@dataclass
class Service:
    name: str
    host: str
    cmd: list[str]
    user: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, logs: Path) -> None:
        with (logs / f"{self.name}.log").open("ab") as log:
            self.proc = subprocess.Popen(
                in_ns(self.host, self.cmd, user=self.user), stdout=log, stderr=subprocess.STDOUT,
                env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8",
                     "PYTHONPATH": str(ROOT), **self.env},
                start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        """A clean stop, as systemd's: SIGTERM to the service's own process (not runuser, which
        would SIGKILL it 2 s later), then wait for it to exit."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pid = self.proc.pid
        if self.user:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            pid = int(children[0]) if children else pid
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"{self.name} did not stop within {timeout:.0f} s") from None

    def kill(self) -> None:
        """SIGKILL the whole process group: a crash, no clean shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


class Topology:
    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self.secret = {name: secrets.token_hex(16) for name in (
            "superuser", "replication", "owner", "service", "mqtt_admin", "mqtt_gateway",
            "redis")}
        self.secret["jwt"] = secrets.token_urlsafe(48)
        self.secret["vrrp"] = secrets.token_hex(4)  # VRRP's password has at most 8 characters
        self.logs = STATE / "logs"
        self.tls = STATE / "tls"

    # --- network --------------------------------------------------------------------------
    def _network_up(self) -> None:
        sw = ns("sw")
        run("ip", "netns", "add", sw)
        run("ip", "-n", sw, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", sw, "link", "set", "br0", "up")
        for host, address in HOSTS.items():
            run("ip", "netns", "add", ns(host))
            run("ip", "-n", sw, "link", "add", f"v-{host}", "type", "veth", "peer", "name",
                "eth0", "netns", ns(host))
            run("ip", "-n", sw, "link", "set", f"v-{host}", "master", "br0", "up")
            run("ip", "-n", ns(host), "addr", "add", f"{address}/24", "dev", "eth0")
            run("ip", "-n", ns(host), "link", "set", "eth0", "up")
            run("ip", "-n", ns(host), "link", "set", "lo", "up")

    def _state_up(self) -> None:
        if STATE.exists():
            shutil.rmtree(STATE)
        STATE.mkdir(mode=0o700)
        shutil.chown(STATE, STACK_USER, STACK_USER)
        for sub in ("logs", "tls", *HOSTS, *(f"{h}/etc" for h in SERVICES)):
            (STATE / sub).mkdir(mode=0o700)
            shutil.chown(STATE / sub, STACK_USER, STACK_USER)
        # One local CA; the server certificate names every host's address and the floating one.
        run("bash", "-c", f'source "{ROOT}/deploy/tls.sh" && local_ca "$@"', "tls",
            str(self.tls), *HOSTS.values(), FLOATING)
        for name in ("server.crt", "server.key"):
            shutil.chown(self.tls / name, STACK_USER, STACK_USER)
            os.chmod(self.tls / name, 0o600)
        os.chmod(self.tls / "ca.crt", 0o644)

    # --- tiers ----------------------------------------------------------------------------
    def etcd_env(self, host: str) -> dict[str, str]:
        cluster = ",".join(f"{h}=https://{HOSTS[h]}:{PORTS['etcd_peer']}" for h in ETCD_HOSTS)
        text = render("etcd.env", {
            "name": host, "address": HOSTS[host], "state_dir": str(STATE / host),
            "peer_port": str(PORTS["etcd_peer"]), "client_port": str(PORTS["etcd_client"]),
            "cluster": cluster, "tls_dir": str(self.tls)})
        write_private(STATE / host / "etc" / "etcd", text, owner=STACK_USER)
        return env_file_values(text)

    def _etcd(self) -> None:
        for host in ETCD_HOSTS:
            self._add(Service(name=f"etcd-{host}", host=host, user=STACK_USER, cmd=["etcd"],
                              env=self.etcd_env(host)))
        for host in ETCD_HOSTS:
            wait_tcp(host, PORTS["etcd_client"])

    def patroni_config(self, host: str) -> str:
        ip, tls, base = HOSTS[host], self.tls, STATE / host
        etcd_hosts = ",".join(f"{HOSTS[h]}:{PORTS['etcd_client']}" for h in ETCD_HOSTS)
        s = self.secret
        return render("patroni.yml", {
            "name": host, "address": ip, "tls_dir": str(tls), "etcd_hosts": etcd_hosts,
            "pg_port": str(PG_PORT), "state_dir": str(base), "pg_bin": str(PG_BIN),
            "superuser_password": s["superuser"], "replication_password": s["replication"],
            "network": f"{SUBNET}.0/24"})

    def _patroni(self) -> None:
        for host in DB_HOSTS:
            config = write_private(STATE / host / "patroni.yml", self.patroni_config(host),
                                   owner=STACK_USER)
            self._add(Service(name=f"patroni-{host}", host=host, user=STACK_USER,
                              cmd=["patroni", str(config)]))
        self.wait_leader(timeout=120)

    def patroni_roles(self) -> dict[str, str]:
        """Each database host's role as Patroni reports it (REST API over TLS)."""
        roles = {}
        for host in DB_HOSTS:
            probe = run(*in_ns("c", ["curl", "-s", "--max-time", "2", "--cacert",
                                     str(self.tls / "ca.crt"),
                                     f"https://{HOSTS[host]}:8008/patroni"]), check=False)
            if probe.returncode == 0 and '"role"' in probe.stdout:
                roles[host] = probe.stdout.split('"role": "')[1].split('"')[0]
        return roles

    def wait_leader(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for host, role in self.patroni_roles().items():
                if role in ("master", "primary"):
                    return host
            time.sleep(0.5)
        raise RuntimeError(f"no database primary within {timeout:.0f} s")

    def wait_replica_streaming(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            roles = self.patroni_roles()
            if sorted(roles.values()) in (["master", "replica"], ["primary", "replica"],
                                          ["master", "sync_standby"],
                                          ["primary", "sync_standby"]):
                return
            time.sleep(0.5)
        raise RuntimeError(f"no streaming replica within {timeout:.0f} s")

    def wait_sync_standby(self, host: str, timeout: float) -> None:
        """Until the host streams as the synchronous standby (Patroni's /sync answers 200):
        the only member a switchover may go to in synchronous mode."""
        probe = in_ns("c", ["curl", "-sf", "--max-time", "2", "--cacert",
                            str(self.tls / "ca.crt"), f"https://{HOSTS[host]}:8008/sync"])
        wait_until(lambda: run(*probe, check=False).returncode == 0,
                   f"{host} the synchronous standby", timeout)

    def switchover(self, leader: str, candidate: str) -> None:
        """A planned switchover (``patronictl switchover``): the leader hands over to the
        candidate, which must be the synchronous standby."""
        run(*in_ns(candidate, ["patronictl", "-c", str(STATE / candidate / "patroni.yml"),
                               "switchover", "--leader", leader, "--candidate", candidate,
                               "--force"], user=STACK_USER))
        wait_until(lambda: self.patroni_roles().get(candidate) in ("master", "primary"),
                   f"{candidate} the primary")

    def database_url(self, user: str, password: str, dbname: str = "kol") -> str:
        hosts = ",".join(f"{HOSTS[h]}:{PG_PORT}" for h in DB_HOSTS)
        return (f"postgresql://{user}:{password}@{hosts}/{dbname}"
                f"?target_session_attrs=read-write&sslmode=verify-full"
                f"&sslrootcert={self.tls / 'ca.crt'}&connect_timeout=3")

    def _database_roles_and_schema(self) -> None:
        leader = self.wait_leader(timeout=60)
        env = {"PATH": os.environ["PATH"], "PGPASSWORD": self.secret["superuser"],
               "KOL_PG_OWNER_PASSWORD": self.secret["owner"],
               "KOL_PG_PASSWORD": self.secret["service"], "PGSSLMODE": "verify-full",
               "PGSSLROOTCERT": str(self.tls / "ca.crt")}
        run(*in_ns(leader, ["psql", "-X", "-q", "-h", HOSTS[leader], "-U", "kol_superuser",
                            "-d", "postgres", "-f", str(ROOT / "deploy/postgres/roles.sql")]),
            env=env)
        self.migrate(leader)

    def migrate(self, host: str) -> str:
        """``kol-admin migrate`` as the owner, from a host (any: the URL finds the primary);
        its output."""
        owner_url = self.database_url("kol_owner", self.secret["owner"])
        owner_env = write_private(STATE / "owner.env", f"KOL_DATABASE_OWNER_URL={owner_url}\n")
        done = run(*in_ns(host, [str(VENV_BIN / "kol-admin"), "migrate"]),
                   env=python_env(KOL_OWNER_ENV_FILE=str(owner_env),
                                  KOL_ENV_FILE=str(self.settings_file("migrate", host))))
        return done.stdout + done.stderr

    def _mosquitto(self) -> None:
        ctrl = MOSQUITTO_PREFIX / "bin" / "mosquitto_ctrl"
        plugin = MOSQUITTO_PREFIX / "lib" / "mosquitto_dynamic_security.so"
        for host in BROKER_HOSTS:
            state = STATE / host / "mosquitto"
            state.mkdir(mode=0o700)
            (state / "data").mkdir(mode=0o700)
            shutil.chown(state, STACK_USER, STACK_USER)
            shutil.chown(state / "data", STACK_USER, STACK_USER)
            pw = self.secret["mqtt_admin"]
            run("runuser", "-u", STACK_USER, "--", "sh", "-c",
                f"umask 077 && {ctrl} dynsec init {state}/dynamic-security.json kol-broker-admin",
                stdin=f"{pw}\n{pw}\n")
            cmd, _ = unit_command("mosquitto", host)
            conf = Path(cmd[-1])
            conf.parent.mkdir(mode=0o700)
            shutil.chown(conf.parent, STACK_USER, STACK_USER)
            run("runuser", "-u", STACK_USER, "--", "sh", "-c",
                f"umask 077 && sh {ROOT}/deploy/mosquitto/write-config.sh {conf} "
                f"{HOSTS[host]} {MQTT_PORT} {MQTT_WS_PORT} {plugin} {state} "
                f"{self.tls}/server.crt {self.tls}/server.key")
            self._add(Service(name=f"mosquitto-{host}", host=host, user=STACK_USER, cmd=cmd))
            wait_tcp(host, MQTT_PORT)
            options = write_private(STATE / host / "ctrl.options", "\n".join([
                f"-h {HOSTS[host]}", f"-p {MQTT_PORT}", "-u kol-broker-admin", f"-P {pw}",
                f"--cafile {self.tls}/ca.crt"]) + "\n")
            run(*in_ns(host, ["sh", str(ROOT / "deploy/mosquitto/accounts.sh"), str(options),
                              "kol-gateway"]),
                env={"PATH": os.environ["PATH"], "MOSQUITTO_CTRL": str(ctrl)},
                stdin=self.secret["mqtt_gateway"] + "\n")

    def redis_replication(self, host: str) -> str:
        """``info replication`` of a host's Redis ("" if it does not answer)."""
        return run(*in_ns("c", ["redis-cli", "--tls", "--cacert", str(self.tls / "ca.crt"),
                                "-h", HOSTS[host], "-p", str(REDIS_PORT), "--no-auth-warning",
                                "-a", self.secret["redis"], "info", "replication"]),
                   check=False).stdout

    def redis_master(self) -> str | None:
        """The host whose Redis says it is master (as HAProxy's check asks)."""
        for host in REDIS_HOSTS:
            if "role:master" in self.redis_replication(host):
                return host
        return None

    def restart_redis_replica(self, host: str) -> None:
        """A clean stop of a replica, started again as the master's replica, in sync."""
        master = self.redis_master()
        assert master not in (None, host), f"{host} is not a replica"
        self.services[f"redis-{host}"].stop()
        self._start_redis(host, master)
        wait_until(lambda: "master_link_status:up" in self.redis_replication(host),
                   f"{host} in sync with {master}")

    def redis_switchover(self, master: str, replica: str) -> None:
        """A planned failover (``SENTINEL FAILOVER``): the replica promoted, the master made its
        replica; done when HAProxy sends Redis connections to the new master only."""
        sentinel = SENTINEL_HOSTS[0]
        run(*in_ns("c", ["redis-cli", "--tls", "--cacert", str(self.tls / "ca.crt"),
                         "-h", HOSTS[sentinel], "-p", str(SENTINEL_PORT),
                         "sentinel", "failover", "kol"]))
        wait_until(lambda: "role:slave" in self.redis_replication(master)
                   and "role:master" in self.redis_replication(replica), f"{replica} master")
        self.wait_haproxy("redis", f"redis-{replica}", lambda s: s["status"] == "UP", "up")
        self.wait_haproxy("redis", f"redis-{master}", lambda s: s["status"] == "DOWN", "down")

    def restart_sentinel(self, host: str) -> None:
        self.services[f"sentinel-{host}"].stop()
        master = self.redis_master()
        assert master is not None
        self._start_sentinel(host, master)
        wait_tcp(host, SENTINEL_PORT)

    def restart_load_balancer(self, host: str) -> None:
        """HAProxy and keepalived of a load-balancer host restarted. The floating address, if
        the host holds it, first moves to the other host (keepalived's clean stop hands it over
        at once); back, the host stays without it (no preemption)."""
        keepalived, haproxy = self.services[f"keepalived-{host}"], self.services[f"haproxy-{host}"]
        keepalived.stop()
        wait_until(lambda: self.floating_holder() not in (None, host),
                   f"the floating address away from {host}")
        haproxy.stop()
        haproxy.start(self.logs)
        logged = self.log_size(keepalived.name)
        keepalived.start(self.logs)
        # Until then (its HAProxy check passed twice) it is in FAULT and would ignore the
        # other's handover: the address would wait for the advert timeout, unserved.
        self.wait_log(keepalived.name, "Entering BACKUP STATE", logged)

    def _start_redis(self, host: str, master: str | None) -> None:
        replicaof = f"replicaof {HOSTS[master]} {REDIS_PORT}" if master and master != host else ""
        base = STATE / host / "redis"
        base.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(base, STACK_USER, STACK_USER)
        conf = write_private(STATE / host / "etc" / "redis.conf", render("redis.conf", {
            "redis_port": str(REDIS_PORT), "tls_dir": str(self.tls), "address": HOSTS[host],
            "redis_password": self.secret["redis"], "state_dir": str(base),
            "replicaof": replicaof}), owner=STACK_USER)
        self._add(Service(name=f"redis-{host}", host=host, user=STACK_USER,
                          cmd=["redis-server", str(conf)]))
        wait_tcp(host, REDIS_PORT)

    def _start_sentinel(self, host: str, master: str) -> None:
        base = STATE / host / "sentinel"
        base.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(base, STACK_USER, STACK_USER)
        # Sentinel rewrites its file: a fresh one per start, naming the master of now.
        conf = write_private(base / "sentinel.conf", render("sentinel.conf", {
            "sentinel_port": str(SENTINEL_PORT), "redis_port": str(REDIS_PORT),
            "tls_dir": str(self.tls), "address": HOSTS[host], "state_dir": str(base),
            "master_address": HOSTS[master], "redis_password": self.secret["redis"]}),
            owner=STACK_USER)
        self._add(Service(name=f"sentinel-{host}", host=host, user=STACK_USER,
                          cmd=["redis-server", str(conf), "--sentinel"]))

    def _redis(self) -> None:
        master = REDIS_HOSTS[0]
        for host in REDIS_HOSTS:
            self._start_redis(host, master)
        for host in SENTINEL_HOSTS:
            self._start_sentinel(host, master)
        for host in SENTINEL_HOSTS:
            wait_tcp(host, SENTINEL_PORT)

    def _start_haproxy(self, host: str) -> None:
        ca = self.tls / "ca.crt"
        check = "check inter 1s fall 2 rise 2"
        api = "\n".join(
            f"    server api-{h} {HOSTS[h]}:{API_PORT} {check} check-ssl verify required"
            f" ca-file {ca}" for h in API_HOSTS)
        mqtt = "\n".join(f"    server mq-{h} {HOSTS[h]}:{MQTT_PORT} {check}"
                         for h in BROKER_HOSTS)
        # A node that stops being master loses its connections at once (on-marked-down).
        redis = "\n".join(
            f"    server redis-{h} {HOSTS[h]}:{REDIS_PORT} {check} check-ssl verify required"
            f" ca-file {ca} on-marked-down shutdown-sessions" for h in REDIS_HOSTS)
        conf = write_private(STATE / host / "etc" / "haproxy.cfg", render("haproxy.cfg", {
            "address": FLOATING, "host_address": HOSTS[host],
            "health_port": str(PORTS["haproxy_health"]), "api_port": str(API_PORT),
            "mqtt_port": str(MQTT_PORT), "redis_port": str(REDIS_PORT),
            "redis_password": self.secret["redis"], "api_servers": api, "mqtt_servers": mqtt,
            "redis_servers": redis, "admin_socket": str(self.admin_socket(host))}),
            owner=STACK_USER)
        self._add(Service(name=f"haproxy-{host}", host=host, user=STACK_USER,
                          cmd=["haproxy", "-db", "-f", str(conf)]))

    @staticmethod
    def admin_socket(host: str) -> Path:
        return STATE / host / "haproxy.sock"

    def haproxy(self, command: str) -> dict[str, str]:
        """A command of HAProxy's runtime API on every load-balancer host (either may hold the
        floating address, or take it over): each one's answer."""
        answers = {}
        for host in LB_HOSTS:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(str(self.admin_socket(host)))
                sock.sendall(command.encode() + b"\n")
                answers[host] = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        return answers

    def haproxy_server(self, backend: str, server: str) -> list[dict[str, str]]:
        """The server's line of ``show stat`` on every load-balancer host (its status, its
        current sessions "scur")."""
        found = []
        for answer in self.haproxy("show stat").values():
            head, *lines = answer.splitlines()
            fields = head.removeprefix("# ").split(",")
            for line in lines:
                values = dict(zip(fields, line.split(","), strict=False))
                if values.get("pxname") == backend and values.get("svname") == server:
                    found.append(values)
        return found

    def wait_haproxy(self, backend: str, server: str, ready: Callable[[dict[str, str]], bool],
                     what: str, timeout: float = 60.0) -> None:
        wait_until(lambda: all(ready(s) for s in self.haproxy_server(backend, server)),
                   f"{backend}/{server} {what}", timeout)

    def drain(self, backend: str, server: str, *, cut: bool = False) -> None:
        """Take a node out of the load balancers: no new connections, and the open ones left to
        end (API requests) or, with ``cut``, ended at once (tablets' MQTT connections, which
        never end by themselves: the tablets reconnect to another node)."""
        self.haproxy(f"disable server {backend}/{server}")
        if cut:
            self.haproxy(f"shutdown sessions server {backend}/{server}")
        self.wait_haproxy(backend, server, lambda s: s["scur"] == "0", "drained")

    def undrain(self, backend: str, server: str) -> None:
        """Put a node back (ready: HAProxy takes it as up at once, before its next check); up on
        every load balancer."""
        self.haproxy(f"enable server {backend}/{server}")
        self.wait_haproxy(backend, server, lambda s: s["status"] == "UP", "up")

    def _start_keepalived(self, host: str) -> None:
        base = STATE / host / "keepalived"
        base.mkdir(mode=0o700, exist_ok=True)
        peers = "\n".join(f"        {HOSTS[h]}" for h in LB_HOSTS if h != host)
        conf = write_private(STATE / host / "etc" / "keepalived.conf", render("keepalived.conf", {
            "name": host, "user": STACK_USER, "address": HOSTS[host],
            "health_port": str(PORTS["haproxy_health"]), "interface": "eth0",
            "priority": str(150 - 10 * LB_HOSTS.index(host)), "peers": peers,
            "vrrp_password": self.secret["vrrp"], "floating_address": FLOATING}))
        # keepalived adds and removes the address, so it runs as root (as Debian's unit does).
        self._add(Service(name=f"keepalived-{host}", host=host, cmd=[
            "keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
            "--use-file", str(conf), "--pid", str(base / "keepalived.pid"),
            "--vrrp_pid", str(base / "vrrp.pid")]))

    def _load_balancers(self) -> None:
        for host in LB_HOSTS:
            # HAProxy binds the floating address on the host that does not hold it too.
            run(*in_ns(host, ["sysctl", "-q", "-w", "net.ipv4.ip_nonlocal_bind=1"]))
            self._start_haproxy(host)
            self._start_keepalived(host)
        # Up when the balancer has found an API node ready (two good checks), not when it
        # listens.
        self.wait_api_ready(FLOATING)

    def wait_api_ready(self, address: str, timeout: float = 60.0) -> None:
        """Until the API at an address (a node's, or the balancer's) answers /readyz with 200."""
        probe = in_ns("c", ["curl", "-sf", "--max-time", "3", "--cacert",
                            str(self.tls / "ca.crt"), f"https://{address}:{API_PORT}/readyz"])
        wait_until(lambda: run(*probe, check=False).returncode == 0,
                   f"the API at {address} ready", timeout)

    def _wal_archive(self) -> None:
        """pg_receivewal on the backup host as its unit runs it: the unit's ExecStart with the
        variables of its EnvironmentFile, rendered from deploy/ha/wal-archive.env."""
        host = BACKUP_HOST
        text = unit_text("wal-archive", host)
        lines = unit_settings(text, "ExecStart", "EnvironmentFile")
        values = render("wal-archive.env", {
            "db_hosts": ",".join(f"{HOSTS[h]}:{PG_PORT}" for h in DB_HOSTS),
            "tls_dir": str(self.tls), "replication_password": self.secret["replication"]})
        write_private(Path(lines["EnvironmentFile"]), values, owner=STACK_USER)
        env = env_file_values(values)
        cmd = [Template(word).substitute(env) for word in shlex.split(lines["ExecStart"])]
        # Patroni makes the permanent slot on the primary within a loop or two.
        deadline = time.monotonic() + 60
        leader = self.wait_leader(timeout=30)
        check = in_ns("c", ["psql", "-X", "-At", "-h", HOSTS[leader], "-U", "kol_superuser",
                            "-d", "postgres", "-c", "select count(*) from pg_replication_slots"
                            " where slot_name = 'kol_archive'"])
        pg_env = {"PATH": os.environ["PATH"], "PGPASSWORD": self.secret["superuser"],
                  "PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(self.tls / "ca.crt")}
        while run(*check, env=pg_env, check=False).stdout.strip() != "1":
            if time.monotonic() > deadline:
                raise RuntimeError("Patroni made no replication slot kol_archive")
            time.sleep(0.5)
        archive = Path(cmd[cmd.index("--directory") + 1])
        archive.mkdir(mode=0o700)
        shutil.chown(archive, STACK_USER, STACK_USER)
        self._add(Service(name=f"wal-archive-{host}", host=host, user=STACK_USER, cmd=cmd,
                          env=env))

    def floating_holder(self) -> str | None:
        for host in LB_HOSTS:
            shown = run("ip", "-n", ns(host), "-4", "-o", "addr", "show", "dev", "eth0",
                        check=False).stdout
            if f" {FLOATING}/" in shown:
                return host
        return None

    def settings_file(self, name: str, host: str, *, path: Path | None = None,
                      mqtt_host: str | None = None) -> Path:
        """A service's private settings file, rendered from deploy/ha/kol.env (its own
        KOL_STACK_DIR for beat's schedule)."""
        base = STATE / host / name
        base.mkdir(mode=0o700, exist_ok=True)
        broker = mqtt_host or host
        s = self.secret
        text = render("kol.env", {
            "service_password": s["service"],
            "db_hosts": ",".join(f"{HOSTS[h]}:{PG_PORT}" for h in DB_HOSTS),
            "tls_dir": str(self.tls),
            "mqtt_host": HOSTS[broker if broker in BROKER_HOSTS else BROKER_HOSTS[0]],
            "mqtt_port": str(MQTT_PORT), "mqtt_ws_port": str(MQTT_WS_PORT),
            "mqtt_gateway_password": s["mqtt_gateway"], "mqtt_admin_password": s["mqtt_admin"],
            "broker_hosts": ",".join(HOSTS[h] for h in BROKER_HOSTS),
            "redis_password": s["redis"], "floating_address": FLOATING,
            "redis_port": str(REDIS_PORT), "jwt_secret": s["jwt"], "address": HOSTS[host],
            "api_port": str(API_PORT), "api_workers": "1", "state_dir": str(base)})
        return write_private(path or base / "kol.env", text)

    def _platform_service(self, unit: str, host: str) -> None:
        cmd, env_file = unit_command(unit, host)
        assert env_file is not None, unit
        name = unit.removeprefix("kol-").replace("@", f"-{host}-") if "@" in unit else \
            f"{unit.removeprefix('kol-')}-{host}"
        broker = unit.partition("@")[2] or None
        self.settings_file(name, host, path=env_file, mqtt_host=broker)
        self._add(Service(name=name, host=host, cmd=cmd,
                          env={"KOL_ENV_FILE": str(env_file)}))

    def _platform(self) -> None:
        for host in API_HOSTS:
            self._platform_service("kol-api", host)
        for host in BEAT_HOSTS:
            self._platform_service("kol-beat", host)
        # Two gateways per broker, on different hosts: one shared group per broker.
        for host, broker in GATEWAYS:
            self._platform_service(f"kol-gateway@{broker}", host)
        for host in API_HOSTS:
            wait_tcp(host, API_PORT, timeout=90)

    def _add(self, service: Service) -> None:
        self.services[service.name] = service
        service.start(self.logs)

    # --- lifecycle ------------------------------------------------------------------------
    def up(self) -> None:
        self.down()
        self._state_up()
        self._network_up()
        self._etcd()
        self._patroni()
        self.wait_replica_streaming(timeout=120)
        self._redis()
        self._mosquitto()
        self._database_roles_and_schema()
        self._platform()
        self._load_balancers()
        self._wal_archive()

    def kill(self, name: str) -> None:
        self.services[name].kill()

    def kill_postgres(self, host: str) -> None:
        """The database host dies: Patroni and every PostgreSQL process on it."""
        self.services[f"patroni-{host}"].kill()
        self._kill_ns_processes(host, lambda comm: comm.startswith("postgres"))

    def restart(self, name: str) -> None:
        self.services[name].start(self.logs)

    def log_size(self, name: str) -> int:
        return (self.logs / f"{name}.log").stat().st_size

    def wait_log(self, name: str, text: str, after: int, timeout: float = 60.0) -> None:
        """Until a service's log says ``text`` past the offset ``after`` (a log_size)."""

        def logged() -> bool:
            with (self.logs / f"{name}.log").open("rb") as log:
                log.seek(after)
                return text.encode() in log.read()

        wait_until(logged, f"{name} logging {text!r}", timeout)

    def kill_host(self, host: str) -> None:
        """The host is lost: off the network (so the floating address it may still carry
        answers nobody) and every process in it killed."""
        run("ip", "-n", ns(host), "link", "set", "eth0", "down")
        for service in self.services.values():
            if service.host == host:
                service.kill()
        self._kill_ns_processes(host)

    def restart_host(self, host: str) -> None:
        """The lost host comes back as its boot would bring it: without the floating address,
        its Redis a replica of the master Sentinel chose meanwhile, the rest as configured."""
        run("ip", "-n", ns(host), "addr", "del", f"{FLOATING}/24", "dev", "eth0", check=False)
        run("ip", "-n", ns(host), "link", "set", "eth0", "up")
        for name, service in self.services.items():
            if service.host != host:
                continue
            if name == f"redis-{host}":
                self._start_redis(host, self.redis_master())
            elif name == f"sentinel-{host}":
                self._start_sentinel(host, self.redis_master() or host)
            else:
                service.start(self.logs)

    def _kill_ns_processes(self, host: str, match: object = None) -> None:
        listed = run("ip", "netns", "pids", ns(host), check=False).stdout.split()
        for pid in listed:
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if match is None or match(comm):  # type: ignore[operator]
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def down(self) -> None:
        """End everything started in the namespaces, then the namespaces themselves."""
        for service in self.services.values():
            service.kill()
        existing = run("ip", "netns", "list", check=False).stdout.split()
        for host in [*HOSTS, "sw"]:
            if ns(host) in existing:
                self._kill_ns_processes(host)
                run("ip", "netns", "del", ns(host), check=False)
