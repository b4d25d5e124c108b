"""Process settings: one :class:`Settings` per process, read from the environment and from the
settings file that ``deploy/stack.sh`` writes (``KOL_ENV_FILE``, default
``/var/tmp/kol-stack/kol.env``).

A settings file holds secrets and decides where the services connect, so it is trusted only when
it is the running user's own and nobody else may read or change it (:func:`check_private_file`).
"""

from __future__ import annotations

import math
import os
import stat
from collections import Counter
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ENV_FILE = Path("/var/tmp/kol-stack/kol.env")

MIN_SECRET_BITS = 160
"""Estimated entropy a token signing key needs (its length times the Shannon entropy of its
characters): 32 random base62 characters carry about 165 bits by this estimate."""
# Words of example values. Matched as written (lower or upper case), so that a random key contains
# one by chance with a probability below 1e-8.
_PLACEHOLDERS = ("change", "example", "secret", "password", "replace", "default", "sample",
                 "dummy", "qwerty")


class InsecureSettingsError(RuntimeError):
    """A settings file or a secret that must not be trusted; the message says how to fix it."""


def env_file() -> Path:
    """``KOL_ENV_FILE``, else the settings file of the stack in ``KOL_STACK_DIR``."""
    if path := os.environ.get("KOL_ENV_FILE"):
        return Path(path)
    if stack := os.environ.get("KOL_STACK_DIR"):
        return Path(stack) / "kol.env"
    return DEFAULT_ENV_FILE


def owner_env_file() -> Path:
    """The file with the database owner's connection (migrations only), beside the settings."""
    return Path(os.environ.get("KOL_OWNER_ENV_FILE", str(env_file().parent / "owner.env")))


def check_private_file(path: Path) -> None:
    """Refuse a secrets or settings file that another user owns or may read or write (or a
    symbolic link to one): whoever can change it chooses our keys and where we connect."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise InsecureSettingsError(f"{path} is a symbolic link; refusing to trust it")
    if info.st_uid != os.geteuid():
        raise InsecureSettingsError(
            f"{path} belongs to uid {info.st_uid}, not to this user (uid {os.geteuid()});"
            " refusing to trust it")
    if info.st_mode & 0o077:
        raise InsecureSettingsError(
            f"{path} has mode {stat.S_IMODE(info.st_mode):04o}: others may read or change it;"
            f" refusing to trust it. Fix it with: chmod 600 {path}")


def secret_weakness(value: str) -> str | None:
    """Why ``value`` is not fit to sign tokens, or None. Known example values and low-entropy
    strings (short, few distinct characters, repeated words) are refused."""
    if len(value) < 32:
        return "it is shorter than 32 characters"
    for word in _PLACEHOLDERS:
        if word in value or word.upper() in value:
            return f"it contains {word!r}, as example values do"
    counts = Counter(value)
    bits = -sum(n * math.log2(n / len(value)) for n in counts.values())
    if bits < MIN_SECRET_BITS:
        return f"its estimated entropy is {bits:.0f} bits, below {MIN_SECRET_BITS}"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOL_", extra="ignore", frozen=True)

    database_url: str = "postgresql://kol@127.0.0.1:54329/kol"
    """The services' role: data manipulation on the platform's tables, no DDL."""
    database_owner_url: SecretStr | None = None
    """The owner's role, for migrations only (``kol-admin migrate``); deploy/stack.sh keeps it
    in its own file (``owner.env``) that the services do not read."""
    db_pool_min: int = 2
    db_pool_max: int = 20
    db_wait_seconds: float = Field(default=3.0, gt=0, le=60)
    """How long an API request waits for a working database connection before it is answered
    503 (database unavailable)."""
    db_retry_after_seconds: int = Field(default=5, ge=1, le=3600)
    """``Retry-After`` of the API's 503 answers while the database is unreachable."""

    mqtt_host: str = "localhost"
    mqtt_port: int = 18830
    """MQTT over TLS."""
    mqtt_ws_port: int = 18831
    """MQTT over secure websockets, for browsers."""
    mqtt_tls: bool = True
    mqtt_gateway_username: str = "kol-gateway"
    mqtt_gateway_password: SecretStr = SecretStr("")
    mqtt_admin_username: str = "kol-broker-admin"
    mqtt_admin_password: SecretStr = SecretStr("")
    mqtt_admin_hosts: str = ""
    """Comma-separated brokers at which devices are provisioned and revoked: every broker node
    of a layout with several (docs/operations.md), since a tablet may land on any of them.
    Empty: ``mqtt_host`` alone."""

    tls_ca_file: Path | None = None
    """The CA that clients trust for the broker and the API (deploy/stack.sh's local CA); unset:
    the system's trust store, for an operator's publicly signed certificates."""
    tls_cert_file: Path | None = None
    """The API's certificate (PEM; the same as the broker's by default)."""
    tls_key_file: Path | None = None
    local_demo_plaintext: bool = False
    """Allow plain-text MQTT and HTTP. Only for a demo on one machine: passwords and health data
    then cross the network in clear."""

    redis_url: str = "redis://127.0.0.1:16379/0"

    max_reading_age_days: int = Field(default=90, ge=1, le=3650)
    """Readings measured longer ago than this are rejected ``too_old``."""
    dead_letter_payload_bytes: int = Field(default=65536, ge=256)
    """Raw payload kept per dead-lettered message; longer ones are cut (their size and SHA-256
    are kept whole)."""
    dead_letters_per_device_hour: int = Field(default=5000, ge=1)
    dead_letter_bytes_per_device_hour: int = Field(default=8 * 2**20, ge=1024)
    """A device's dead letters (rejected readings or whole messages) and payload bytes stored per
    clock hour; a rejected message that would exceed them is still receipted and counted, but
    not stored."""
    dead_letter_retention_days: int = Field(default=90, ge=1)
    """Dead letters older than this are deleted (Celery task ``rejections.prune``)."""
    alert_recovery_max_attempts: int = Field(default=5, ge=1)
    alert_recovery_backoff_seconds: float = Field(default=60.0, gt=0)
    """A left-over alert evaluation that fails is tried again after this many seconds, doubled
    at each failure (at most an hour); after ``alert_recovery_max_attempts`` failures it is
    parked for an operator and later ones proceed."""
    device_offline_after_minutes: int = Field(default=1440, ge=1)
    """A device not heard from (status or readings) for longer is shown offline, whatever its
    last status said."""
    outcomes_min_group: int = Field(default=5, ge=1, le=1000)
    """Outcome figures of a group (a team, the municipality) with fewer monitored patients in a
    period are suppressed (docs/outcomes.md)."""
    outcomes_reference_year: int | None = Field(default=None, ge=1900, le=2099)
    """The year the outcome figures are compared with; unset: the year before the current."""
    pro_interval_days: int = Field(default=30, ge=1, le=365)
    """How often the tablet asks the patient-reported-outcome question (docs/outcomes.md)."""

    api_host: str = "127.0.0.1"
    api_port: int = 8765
    api_workers: int = Field(default=2, ge=1, le=32)
    """kol-api worker processes, each with its own pool and alert-event listener: one Python
    process cannot use a second core."""
    triage_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    """How long a worker reuses a rendered triage page (0: never). Alert events and successful
    writes through the API clear it at once, so only the last measurement time can lag."""
    access_log_retention_days: int = Field(default=3653, ge=365, le=36500)
    """How long the access log keeps who read which patient's data (default ten years; the
    database refuses less than one)."""
    stream_recheck_seconds: float = Field(default=5.0, ge=0.1, le=60)
    """How often an open event stream checks that its user is still active and in the same
    teams (it ends otherwise, and when its token expires)."""
    pairing_code_minutes: int = Field(default=15, ge=1, le=60)
    """How long a tablet pairing code can be redeemed (docs/tablet.md)."""
    pairing_codes_per_patient_per_hour: int = Field(default=5, ge=1, le=100)
    pairing_attempts_per_address: int = Field(default=10, ge=1, le=1000)
    """Pairing-code redemptions per client address in 15 minutes, right or wrong."""
    tablet_web_root: Path | None = None
    """The directory holding the tablet app (``tablet/``) and the npm packages
    (``node_modules/``); unset: the source checkout the API runs from."""
    tablet_reminder_minutes: int = Field(default=60, ge=0, le=720)
    """The tablet reminds the patient this long before a measurement's deadline."""
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    """Larger request bodies are refused (413) before they are read."""
    readyz_cache_seconds: float = Field(default=5.0, ge=0.5, le=300)
    """How long /readyz reuses its dependency checks: probes cannot make it open connections."""
    login_attempts_per_user_and_address: int = Field(default=5, ge=1, le=100)
    """Failed logins for one username from one address before that address is locked out for
    it (15 minutes)."""
    login_attempts_per_address: int = Field(default=50, ge=1, le=10_000)
    """Failed logins from one address, any usernames, before it is locked out (15 minutes)."""
    login_attempts_per_user: int = Field(default=20, ge=1, le=10_000)
    """Failed logins for one username from all addresses in an hour before the username is
    slowed to one password check per ``login_slow_seconds`` (never locked for everyone)."""
    login_slow_seconds: float = Field(default=10.0, ge=0.1, le=600)
    jwt_secret: SecretStr = SecretStr("")
    jwt_ttl_seconds: int = Field(default=900, ge=10, le=86400)
    """Access tokens' lifetime. The dashboard renews them silently from its session (a
    rotating refresh token in a cookie), so they can be short."""
    session_max_hours: float = Field(default=13.0, ge=0.1, le=24 * 7)
    """A dashboard session (its refresh token) ends this long after the login at the latest:
    a shift and its handover, then the nurse logs in again."""
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    """Idle timeout of a dashboard session for users none of whose teams set their own
    (``teams.idle_timeout_minutes``; the shortest of her teams' applies)."""
    session_refresh_grace_seconds: float = Field(default=10.0, ge=0, le=120)
    """A refresh token just replaced is still accepted this long (two tabs renewing at once);
    presented later, it is taken as stolen and ends the session."""

    # Notifications (docs/notifications.md). Links in messages point here; they open the dashboard,
    # which asks for a login.
    public_url: str = ""
    """The dashboard's address as nurses reach it (default: https://api_host:api_port)."""
    smtp_host: str = ""
    """Empty: no e-mail is sent (e-mail deliveries fail and are retried until it is set)."""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = "KOL-overvaagning <noreply@kol.invalid>"
    sms_gateway_url: str = ""
    """The HTTP SMS gateway adapter's endpoint (request shape in docs/notifications.md)."""
    sms_gateway_token: SecretStr = SecretStr("")
    sms_sender: str = "KOL"
    vapid_private_key_file: Path | None = None
    """PEM of the Web Push VAPID key (default: vapid_private.pem in stack_dir, made on first
    use)."""
    vapid_subject: str = "mailto:drift@kol.invalid"
    notify_send_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    notify_max_attempts: int = Field(default=6, ge=1, le=50)
    notify_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    """Retry n waits backoff * 2^(n-1) seconds."""
    notify_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    """A message in flight longer than this lost its worker (killed mid-send) and is sent
    again, with the same idempotency key."""
    notify_tick_seconds: float = Field(default=2.0, ge=0.2, le=60)
    """How often the worker beat turns the outbox into chains and due steps into messages."""
    auto_resolve_missing: bool = True
    """A blue (missing measurement) alert resolves itself when the measurement arrives."""

    # Schedules and display; the database stores UTC.
    timezone: str = "Europe/Copenhagen"
    stack_dir: Path = Path("/var/tmp/kol-stack")

    @field_validator("tls_ca_file", "tls_cert_file", "tls_key_file", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("jwt_secret")
    @classmethod
    def _strong_jwt_secret(cls, value: SecretStr) -> SecretStr:
        # Empty: a process that signs no tokens (the gateway); kol-api refuses to start without.
        secret = value.get_secret_value()
        if secret and (why := secret_weakness(secret)):
            raise ValueError(f"KOL_JWT_SECRET is refused: {why}. Generate one with:"
                             " head -c 48 /dev/urandom | base64")
        return value

    @model_validator(mode="after")
    def _tls_unless_local_demo(self) -> Settings:
        if not self.mqtt_tls and not self.local_demo_plaintext:
            raise ValueError("KOL_MQTT_TLS=false needs KOL_LOCAL_DEMO_PLAINTEXT=true: device"
                             " passwords and readings would cross the network in clear")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    path = env_file()
    if path.exists():
        check_private_file(path)
        return Settings(_env_file=path)
    return Settings()


def owner_database_url() -> str:
    """The database owner's connection, for migrations: ``KOL_DATABASE_OWNER_URL`` from the
    environment or the owner file deploy/stack.sh writes."""
    path = owner_env_file()
    if path.exists():
        check_private_file(path)
        settings = Settings(_env_file=(env_file(), path))
    else:
        settings = get_settings()
    if settings.database_owner_url is None:
        raise InsecureSettingsError(
            f"no database owner connection: set KOL_DATABASE_OWNER_URL or write it to {path}"
            " (deploy/stack.sh does); the services' role may not change the schema")
    return settings.database_owner_url.get_secret_value()
