"""A minimal migration runner: numbered SQL files in ``core/migrations`` applied in order, each
in its own transaction, recorded in ``schema_migrations`` with a checksum so that an edited,
already-applied migration is refused rather than silently diverging. Concurrent runners serialise
on an advisory lock; a second run applies nothing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6B6F6C  # "kol"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_snake_name.sql")
        version = int(match.group(1))
        if version in migrations:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        migrations[version] = Migration(version=version, name=match.group(2),
                                        sql=path.read_text(encoding="utf-8"))
    return [migrations[v] for v in sorted(migrations)]


def migrate(database_url: str, *, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the pending migrations; return those applied by this call."""
    pending = discover(directory)
    applied_now: list[Migration] = []
    with psycopg.connect(database_url, autocommit=True, application_name="kol-migrate") as conn:
        conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "create table if not exists schema_migrations ("
                " version integer primary key, name text not null, checksum text not null,"
                " applied_at timestamptz not null default now())"
            )
            done = {row[0]: row[1] for row in
                    conn.execute("select version, checksum from schema_migrations")}
            for migration in pending:
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version}_{migration.name} was edited after it"
                            " was applied; add a new migration instead")
                    continue
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "insert into schema_migrations (version, name, checksum)"
                        " values (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum))
                applied_now.append(migration)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now
