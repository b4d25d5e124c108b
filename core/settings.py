"""Process settings: one :class:`Settings` per process, read from the environment and from the
settings file that ``deploy/stack.sh`` writes (``KOL_ENV_FILE``, default
``/var/tmp/kol-stack/kol.env``)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_ENV_FILE = Path("/var/tmp/kol-stack/kol.env")


def env_file() -> Path:
    return Path(os.environ.get("KOL_ENV_FILE", str(DEFAULT_ENV_FILE)))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KOL_", extra="ignore", frozen=True)

    database_url: str = "postgresql://kol@127.0.0.1:54329/kol"
    db_pool_min: int = 2
    db_pool_max: int = 20

    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 18830
    mqtt_gateway_username: str = "kol-gateway"
    mqtt_gateway_password: SecretStr = SecretStr("")
    mqtt_admin_username: str = "kol-broker-admin"
    mqtt_admin_password: SecretStr = SecretStr("")

    redis_url: str = "redis://127.0.0.1:16379/0"

    api_host: str = "127.0.0.1"
    api_port: int = 8765
    api_workers: int = Field(default=2, ge=1, le=32)
    """kol-api worker processes, each with its own pool and alert-event listener: one Python
    process cannot use a second core."""
    triage_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    """How long a worker reuses a rendered triage page (0: never). Alert events and successful
    writes through the API clear it at once, so only the last measurement time can lag."""
    jwt_secret: SecretStr = SecretStr("")
    jwt_ttl_seconds: int = Field(default=900, ge=60, le=86400)

    # Schedules and display; the database stores UTC.
    timezone: str = "Europe/Copenhagen"
    stack_dir: Path = Path("/var/tmp/kol-stack")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    path = env_file()
    return Settings(_env_file=path if path.exists() else None)
