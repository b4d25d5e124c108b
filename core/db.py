"""Database connections. One pool per process, opened by the process's entry point (the FastAPI
lifespan, the gateway's start, a Celery worker's init); the boundary that takes a connection owns
its transaction."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from core.settings import Settings


def open_pool(settings: Settings, *, name: str, min_size: int | None = None,
              max_size: int | None = None) -> ConnectionPool:
    """Open a connection pool and wait until its first connections are up.

    Every connection is checked as it leaves the pool (an empty query, one round trip): after a
    database restart the pool's idle connections are all dead, and without the check each would
    fail the first request that took it."""
    pool = ConnectionPool(
        settings.database_url,
        min_size=settings.db_pool_min if min_size is None else min_size,
        max_size=settings.db_pool_max if max_size is None else max_size,
        kwargs={"application_name": name, "row_factory": dict_row},
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
    )
    pool.open(wait=True, timeout=30)
    return pool


def connect(settings: Settings, *, name: str,
            autocommit: bool = False) -> psycopg.Connection[DictRow]:
    """A single connection, for command-line tools and LISTEN loops."""
    return psycopg.connect(settings.database_url, application_name=name,
                           autocommit=autocommit, row_factory=dict_row)


def all_of(*conditions: sql.Composable | None) -> sql.Composable:
    """``a and b and …`` of the conditions given (None skipped; ``true`` if none): optional
    filters composed into the statement instead of ``%s is null or …``, which a prepared generic
    plan cannot drop."""
    kept = [c for c in conditions if c is not None]
    return sql.SQL(" and ").join(kept) if kept else sql.SQL("true")
