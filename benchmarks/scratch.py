"""Scratch databases for benchmark runs: created and migrated by the database owner, used by the
services' role as in production, dropped afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.migrate import migrate
from core.settings import Settings, owner_database_url


def with_database(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return make_conninfo(**params)  # type: ignore[arg-type]


@contextmanager
def scratch_database(settings: Settings, name: str) -> Iterator[tuple[str, str]]:
    """``(service URL, owner URL)`` of a new migrated database, dropped when the block ends."""
    owner = owner_database_url()
    admin_url = with_database(owner, "postgres")
    db = f"kol_bench_{name}_{os.getpid()}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'create database "{db}"')
    try:
        migrate(with_database(owner, db))
        yield with_database(settings.database_url, db), with_database(owner, db)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{db}" with (force)')
