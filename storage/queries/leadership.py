"""Heartbeats of the elected roles: the holder writes one while it holds the role, on the
database's clock, so that every replica (and /metrics) can tell how long ago somebody led."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import LeaderHeartbeat

# Written by the PostgreSQL holder on its lock's own connection: if this answers, the lock is held.
BEAT_SQL = (
    "INSERT INTO leader_heartbeat (role, holder, seen_at) VALUES (:role, :holder, now()) "
    "ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, seen_at = excluded.seen_at"
)

# A standby's look at a holder: who it is and how long it has been silent (database clock).
SILENCE_SQL = "SELECT holder, extract(epoch FROM now() - seen_at) FROM leader_heartbeat WHERE role = :role"

# Ends every session of the silent holder (its lock, its claims, its half-done transactions).
FENCE_SQL = (
    "SELECT count(pg_terminate_backend(pid, :wait_ms)) FROM pg_stat_activity "
    "WHERE application_name = :holder AND pid <> pg_backend_pid()"
)


def confirm_within(retry_s: float) -> float:
    """How long the holder waits for its heartbeat to be answered before it steps down."""
    return max(retry_s, 1.0)


def stale_after(retry_s: float) -> float:
    """How long a holder's heartbeat may be silent before a standby fences it: the holder writes one
    every `retry_s` and steps down when one is not answered within `confirm_within`, so by then it
    has stopped; the margin covers a busy machine."""
    return retry_s + confirm_within(retry_s) + max(1.0, retry_s)


async def beat(session: AsyncSession, role: str, holder: str) -> None:
    """The SQLite holder's heartbeat (PostgreSQL holders use BEAT_SQL on the lock's connection)."""
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    statement = insert(LeaderHeartbeat).values(role=role, holder=holder, seen_at=datetime.now(UTC))
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["role"], set_={"holder": statement.excluded.holder, "seen_at": statement.excluded.seen_at}
        )
    )


async def silent_for(session: AsyncSession, role: str) -> float | None:
    """Seconds since the holder of `role` last wrote its heartbeat; None if nobody ever held it."""
    if dialect(session) == "postgresql":
        query = select(func.extract("epoch", func.now() - LeaderHeartbeat.seen_at)).where(LeaderHeartbeat.role == role)
        age = (await session.exec(query)).first()
        return None if age is None else max(0.0, float(age))
    seen = (await session.exec(select(LeaderHeartbeat.seen_at).where(LeaderHeartbeat.role == role))).first()
    return None if seen is None else max(0.0, (datetime.now(UTC) - seen).total_seconds())
