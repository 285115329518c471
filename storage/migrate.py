"""Schema migrations, applied at start-up.

Alembic does the work; Tower only asks it when the database is behind. The common case (the
schema is current) costs one query and never imports Alembic, which keeps `tower shell` quick.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.database import Database

_VERSIONS = Path(__file__).parent / "migrations" / "versions"
# Any fixed number: the advisory lock that makes replicas take turns migrating.
_MIGRATION_LOCK = 0x70776572


def head_revision() -> str:
    """The newest revision: versions are numbered files (0001_foundation.py, 0002_…)."""
    numbers = sorted(p.name.split("_", 1)[0] for p in _VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    return numbers[-1]


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _alembic_config(conn: Connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "storage:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def _upgrade(conn: Connection, target: str) -> None:
    from alembic import command

    command.upgrade(_alembic_config(conn), target)


@dataclass(frozen=True)
class MigrationResult:
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(db: Database, target: str = "head") -> MigrationResult:
    head = head_revision() if target == "head" else target
    async with db.engine.connect() as conn:
        before = await conn.run_sync(_current)
    if before == head:
        return MigrationResult(before, head)
    async with db.engine.execution_options(tower_write=True).begin() as conn:
        if db.dialect == "postgresql":
            # Replicas starting together: one migrates, the others wait and then find it done.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        before = await conn.run_sync(_current)
        if before != head:
            await conn.run_sync(_upgrade, head)
    return MigrationResult(before, head)


async def differences(db: Database) -> list[str]:
    """Where the database schema differs from the tables Tower's code expects (empty: none)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.tables import metadata

    def compare(conn: Connection) -> list[str]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False})
        return [_describe(diff) for diff in compare_metadata(ctx, metadata)]

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


def _describe(diff: object) -> str:
    if isinstance(diff, list):  # column-level changes come grouped
        return "; ".join(_describe(d) for d in diff)
    kind, *rest = diff if isinstance(diff, tuple) else (diff,)
    names = [getattr(r, "name", None) or str(r) for r in rest if r is not None]
    return f"{kind}: {', '.join(n for n in names if n)}"
