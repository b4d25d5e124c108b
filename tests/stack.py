"""The test suite's own stack: the project's deploy/stack.sh on ports and a state directory of its
own (override with the KOL_* variables below), a fresh database per run with the migrations
applied."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
STACK_SCRIPT = ROOT / "deploy" / "stack.sh"

TEST_STACK_DEFAULTS = {
    "KOL_STACK_DIR": "/var/tmp/kol-stack-test",
    "KOL_PG_PORT": "54339",
    "KOL_MQTT_PORT": "18840",
    "KOL_MQTT_WS_PORT": "18841",
    "KOL_REDIS_PORT": "16389",
    "KOL_API_PORT": "8775",
}


def stack(*args: str) -> None:
    subprocess.run(["bash", str(STACK_SCRIPT), *args], check=True, stdout=subprocess.DEVNULL)


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
    return values


def write_private(path: Path, text: str) -> None:
    """A settings or secrets file as the services require it: ours, mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def with_database(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


def create_database(admin_url: str) -> str:
    name = f"kol_test_{time.strftime('%Y%m%d_%H%M%S')}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
