"""The local CI's run book: one row per operation, claimed once, kept alive, closed with its result."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import LocalRun

OUTPUT_KEPT = 2000


async def claim(
    session: AsyncSession,
    *,
    operation_id: str,
    pipeline: str,
    pid: int,
    host: str,
    token: str,
    now: datetime,
) -> bool:
    """Record that this process runs the operation. False if a run of it is already recorded (this
    process's or another's): then nobody runs it a second time."""
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    result = await session.exec(
        insert(LocalRun)
        .values(
            operation_id=operation_id,
            pipeline=pipeline,
            owner_pid=pid,
            owner_host=host[:255],
            owner_token=token,
            started_at=now,
            heartbeat_at=now,
            status="running",
        )
        .on_conflict_do_nothing(index_elements=["operation_id"])
    )
    return result.rowcount == 1


async def get(session: AsyncSession, operation_id: str) -> LocalRun | None:
    return (await session.exec(select(LocalRun).where(LocalRun.operation_id == operation_id))).first()


async def beat(session: AsyncSession, token: str, operation_ids: Collection[str], now: datetime) -> int:
    """This process's runs are alive: their heartbeat is now."""
    if not operation_ids:
        return 0
    result = await session.exec(
        update(LocalRun)
        .where(
            col(LocalRun.operation_id).in_(operation_ids),
            col(LocalRun.owner_token) == token,
            col(LocalRun.status) == "running",
        )
        .values(heartbeat_at=now)
    )
    return result.rowcount


async def finish(
    session: AsyncSession,
    operation_id: str,
    *,
    status: str,
    step: str,
    exit_code: int | None,
    output: str,
    now: datetime,
    archive: str | None = None,
    token: str | None = None,
) -> bool:
    """Close a running run with its result (only once: a run already closed keeps its first result).
    With `token`, only the owner's own run."""
    query = update(LocalRun).where(col(LocalRun.operation_id) == operation_id, col(LocalRun.status) == "running")
    if token is not None:
        query = query.where(col(LocalRun.owner_token) == token)
    result = await session.exec(
        query.values(
            status=status,
            step=step,
            exit_code=exit_code,
            output=output[-OUTPUT_KEPT:] or None,
            archive=(archive or "")[:1000] or None,
            finished_at=now,
            heartbeat_at=now,
        )
    )
    return result.rowcount == 1
