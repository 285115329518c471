"""The append-only audit log: who did what, when, from which platform."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import AuditEntry


async def record(
    session: AsyncSession,
    *,
    at: datetime,
    actor: str,
    actor_id: int | None,
    platform: str,
    action: str,
    channel: str | None = None,
    command: str | None = None,
    project_id: int | None = None,
    release_id: int | None = None,
    detail: str | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=at,
        actor=actor,
        actor_id=actor_id,
        platform=platform,
        channel=channel,
        action=action,
        command=command,
        project_id=project_id,
        release_id=release_id,
        detail=detail,
    )
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, release_id: int | None = None, limit: int = 50) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if release_id is not None:
        query = query.where(AuditEntry.release_id == release_id)
    return list(reversed((await session.exec(query)).all()))


async def count(session: AsyncSession) -> int:
    return (await session.exec(select(func.count()).select_from(AuditEntry))).one()
