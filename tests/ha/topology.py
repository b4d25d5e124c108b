"""A multi-host platform on this machine: network namespaces joined by a bridge, each host
running its share of the tiers, the way deploy/ha/ lays them out for real hosts.

    kolha-h1  10.213.7.1   etcd · Patroni+PostgreSQL/TimescaleDB · Mosquitto · 2 gateways · API
                           · beat
    kolha-h2  10.213.7.2   the same as h1
    kolha-h3  10.213.7.3   etcd · Redis · HAProxy (API :8443 by /readyz, MQTT :8883)
    kolha-c   10.213.7.10  the clients: tablets and a polling dashboard

Every listener is TLS with the stack's local CA (deploy/tls.sh), the database as in
deploy/stack.sh: passwords only, owner for migrations, the services' role for data; secrets in
0600 files in a 0700 directory, never on a command line. Everything runs in namespaces this
module creates and is ended by :meth:`Topology.down`, also after a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from tests.stack import ROOT

PREFIX = "kolha"
SUBNET = "10.213.7"
HOSTS = {"h1": f"{SUBNET}.1", "h2": f"{SUBNET}.2", "h3": f"{SUBNET}.3", "c": f"{SUBNET}.10"}
DB_HOSTS = ("h1", "h2")
BROKER_HOSTS = ("h1", "h2")
API_HOSTS = ("h1", "h2")
LB_HOST = "h3"
STATE = Path(os.environ.get("KOL_HA_DIR", "/var/tmp/kol-ha"))
STACK_USER = os.environ.get("KOL_STACK_USER", "kol")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
MOSQUITTO_PREFIX = Path(os.environ.get("MOSQUITTO_PREFIX", "/opt/kol/mosquitto-2.0.21"))
VENV_BIN = ROOT / ".venv" / "bin"
MQTT_PORT, MQTT_WS_PORT, API_PORT, PG_PORT = 8883, 8884, 8443, 5432


def render(name: str, values: dict[str, str]) -> str:
    """A configuration file of deploy/ha/ with this topology's values: the test runs what an
    operator deploys."""
    return Template((ROOT / "deploy" / "ha" / name).read_text()).substitute(values)


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
                env={"PATH": os.environ["PATH"], "LANG": "C.UTF-8", **self.env},
                start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

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
        for sub in ("logs", "tls", *HOSTS):
            (STATE / sub).mkdir(mode=0o700)
            shutil.chown(STATE / sub, STACK_USER, STACK_USER)
        # One local CA; the server certificate names every host's address.
        run("bash", "-c", f'source "{ROOT}/deploy/tls.sh" && local_ca "$@"', "tls",
            str(self.tls), *HOSTS.values())
        for name in ("server.crt", "server.key"):
            shutil.chown(self.tls / name, STACK_USER, STACK_USER)
            os.chmod(self.tls / name, 0o600)
        os.chmod(self.tls / "ca.crt", 0o644)

    # --- tiers ----------------------------------------------------------------------------
    def _etcd(self) -> None:
        cluster = ",".join(f"{h}=https://{HOSTS[h]}:2380" for h in ("h1", "h2", "h3"))
        tls = self.tls
        for host in ("h1", "h2", "h3"):
            ip = HOSTS[host]
            data = STATE / host / "etcd"
            self._add(Service(name=f"etcd-{host}", host=host, user=STACK_USER, cmd=[
                "etcd", "--name", host, "--data-dir", str(data),
                "--listen-peer-urls", f"https://{ip}:2380",
                "--initial-advertise-peer-urls", f"https://{ip}:2380",
                "--listen-client-urls", f"https://{ip}:2379",
                "--advertise-client-urls", f"https://{ip}:2379",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "kol-ha",
                "--cert-file", f"{tls}/server.crt", "--key-file", f"{tls}/server.key",
                "--peer-cert-file", f"{tls}/server.crt", "--peer-key-file", f"{tls}/server.key",
                "--peer-trusted-ca-file", f"{tls}/ca.crt", "--peer-client-cert-auth",
                "--trusted-ca-file", f"{tls}/ca.crt", "--client-cert-auth",
                "--quota-backend-bytes", str(256 * 1024 * 1024),
                "--heartbeat-interval", "200", "--election-timeout", "2000"]))
        for host in ("h1", "h2", "h3"):
            wait_tcp(host, 2379)

    def patroni_config(self, host: str) -> str:
        ip, tls, base = HOSTS[host], self.tls, STATE / host
        etcd_hosts = ",".join(f"{HOSTS[h]}:2379" for h in ("h1", "h2", "h3"))
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
        owner_url = self.database_url("kol_owner", self.secret["owner"])
        owner_env = write_private(STATE / "owner.env", f"KOL_DATABASE_OWNER_URL={owner_url}\n")
        run(*in_ns(leader, [str(VENV_BIN / "kol-admin"), "migrate"]),
            env={"PATH": os.environ["PATH"], "KOL_OWNER_ENV_FILE": str(owner_env),
                 "KOL_ENV_FILE": str(self.settings_file("migrate", leader))})

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
            run("runuser", "-u", STACK_USER, "--", "sh", "-c",
                f"umask 077 && sh {ROOT}/deploy/mosquitto/write-config.sh {state}/mosquitto.conf "
                f"{HOSTS[host]} {MQTT_PORT} {MQTT_WS_PORT} {plugin} {state} "
                f"{self.tls}/server.crt {self.tls}/server.key")
            self._add(Service(name=f"mosquitto-{host}", host=host, user=STACK_USER,
                              cmd=[str(MOSQUITTO_PREFIX / "sbin" / "mosquitto"), "-c",
                                   str(state / "mosquitto.conf")]))
            wait_tcp(host, MQTT_PORT)
            options = write_private(STATE / host / "ctrl.options", "\n".join([
                f"-h {HOSTS[host]}", f"-p {MQTT_PORT}", "-u kol-broker-admin", f"-P {pw}",
                f"--cafile {self.tls}/ca.crt"]) + "\n")
            run(*in_ns(host, ["sh", str(ROOT / "deploy/mosquitto/accounts.sh"), str(options),
                              "kol-gateway"]),
                env={"PATH": os.environ["PATH"], "MOSQUITTO_CTRL": str(ctrl)},
                stdin=self.secret["mqtt_gateway"] + "\n")

    def _redis(self) -> None:
        base = STATE / LB_HOST
        conf = write_private(base / "redis.conf", "\n".join([
            # TLS only: the password and the task messages cross the network.
            "port 0", "tls-port 6379", f"tls-cert-file {self.tls}/server.crt",
            f"tls-key-file {self.tls}/server.key", f"tls-ca-cert-file {self.tls}/ca.crt",
            "tls-auth-clients no", f"bind {HOSTS[LB_HOST]}", "protected-mode yes",
            f"requirepass {self.secret['redis']}", f"dir {base}", "daemonize no",
            "appendonly yes", 'save ""']) + "\n", owner=STACK_USER)
        self._add(Service(name="redis", host=LB_HOST, user=STACK_USER,
                          cmd=["redis-server", str(conf)]))
        wait_tcp(LB_HOST, 6379)

    def _haproxy(self) -> None:
        ca = self.tls / "ca.crt"
        api = "\n".join(
            f"    server api-{h} {HOSTS[h]}:{API_PORT} check check-ssl verify required"
            f" ca-file {ca} inter 1s fall 2 rise 2" for h in API_HOSTS)
        mqtt = "\n".join(f"    server mq-{h} {HOSTS[h]}:{MQTT_PORT} check inter 1s fall 2 rise 2"
                         for h in BROKER_HOSTS)
        conf = write_private(STATE / LB_HOST / "haproxy.cfg", render("haproxy.cfg", {
            "address": HOSTS[LB_HOST], "api_port": str(API_PORT), "mqtt_port": str(MQTT_PORT),
            "api_servers": api, "mqtt_servers": mqtt}), owner=STACK_USER)
        self._add(Service(name="haproxy", host=LB_HOST, user=STACK_USER,
                          cmd=["haproxy", "-db", "-f", str(conf)]))
        # Up when the balancer has found an API node ready (two good checks), not when it
        # listens.
        deadline = time.monotonic() + 60
        probe = in_ns("c", ["curl", "-sf", "--max-time", "3", "--cacert",
                            str(self.tls / "ca.crt"), f"https://{HOSTS[LB_HOST]}:{API_PORT}/readyz"])
        while run(*probe, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("no API node became ready behind the load balancer")
            time.sleep(0.5)

    def settings_file(self, name: str, host: str, *, mqtt_host: str | None = None) -> Path:
        """A service's private settings file (its own KOL_STACK_DIR for beat's schedule)."""
        base = STATE / host / name
        base.mkdir(mode=0o700, exist_ok=True)
        values = {
            "KOL_DATABASE_URL": self.database_url("kol", self.secret["service"]),
            "KOL_MQTT_HOST": HOSTS[mqtt_host or host] if (mqtt_host or host) in BROKER_HOSTS
            else HOSTS[BROKER_HOSTS[0]],
            "KOL_MQTT_PORT": str(MQTT_PORT), "KOL_MQTT_WS_PORT": str(MQTT_WS_PORT),
            "KOL_MQTT_GATEWAY_USERNAME": "kol-gateway",
            "KOL_MQTT_GATEWAY_PASSWORD": self.secret["mqtt_gateway"],
            "KOL_MQTT_ADMIN_USERNAME": "kol-broker-admin",
            "KOL_MQTT_ADMIN_PASSWORD": self.secret["mqtt_admin"],
            "KOL_MQTT_ADMIN_HOSTS": ",".join(HOSTS[h] for h in BROKER_HOSTS),
            "KOL_REDIS_URL": f"rediss://:{self.secret['redis']}@{HOSTS[LB_HOST]}:6379/0"
                             f"?ssl_cert_reqs=required&ssl_ca_certs={self.tls / 'ca.crt'}",
            "KOL_JWT_SECRET": self.secret["jwt"],
            "KOL_API_HOST": HOSTS[host], "KOL_API_PORT": str(API_PORT), "KOL_API_WORKERS": "1",
            "KOL_TLS_CERT_FILE": str(self.tls / "server.crt"),
            "KOL_TLS_KEY_FILE": str(self.tls / "server.key"),
            "KOL_TLS_CA_FILE": str(self.tls / "ca.crt"),
            "KOL_STACK_DIR": str(base), "KOL_DB_POOL_MIN": "1", "KOL_DB_POOL_MAX": "4",
        }
        return write_private(base / "kol.env", "".join(f"{k}={v}\n" for k, v in values.items()))

    def _platform(self) -> None:
        for host in API_HOSTS:
            self._add(Service(name=f"api-{host}", host=host, cmd=[str(VENV_BIN / "kol-api")],
                              env={"KOL_ENV_FILE": str(self.settings_file("api", host))}))
            self._add(Service(name=f"beat-{host}", host=host, cmd=[str(VENV_BIN / "kol-beat")],
                              env={"KOL_ENV_FILE": str(self.settings_file("beat", host))}))
        # Two gateways per broker, on different hosts: one shared group per broker.
        for host in ("h1", "h2"):
            for broker in BROKER_HOSTS:
                name = f"gateway-{host}-{broker}"
                self._add(Service(name=name, host=host, cmd=[
                    str(VENV_BIN / "kol-gateway"), "--client-id", name, "--shared-group", "kol",
                    "--session-expiry", "5", "--metrics-port", "0"],
                    env={"KOL_ENV_FILE": str(self.settings_file(name, host, mqtt_host=broker))}))
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
        self._haproxy()

    def kill(self, name: str) -> None:
        self.services[name].kill()

    def kill_postgres(self, host: str) -> None:
        """The database host dies: Patroni and every PostgreSQL process on it."""
        self.services[f"patroni-{host}"].kill()
        self._kill_ns_processes(host, lambda comm: comm.startswith("postgres"))

    def restart(self, name: str) -> None:
        self.services[name].start(self.logs)

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
