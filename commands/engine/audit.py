"""Recording who did what: every mutating command writes one entry in its own transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.context import Invocation
from storage.queries import audit, directory


async def actor_id(session: AsyncSession, inv: Invocation) -> int | None:
    if inv.person is None:
        return None
    row = await directory.person_by_handle(session, inv.person.handle)
    return row.id if row else None


async def record(
    session: AsyncSession,
    inv: Invocation,
    action: str,
    at: datetime,
    *,
    project_id: int | None = None,
    release_id: int | None = None,
    detail: str | None = None,
    person_id: int | None = None,
) -> None:
    await audit.record(
        session,
        at=at,
        actor=inv.actor,
        actor_id=person_id if person_id is not None else await actor_id(session, inv),
        platform=inv.platform,
        channel=inv.channel,
        action=action,
        command=inv.text[:4000],
        project_id=project_id,
        release_id=release_id,
        detail=detail,
    )


async def record_event(
    session: AsyncSession,
    action: str,
    at: datetime,
    *,
    source: str,
    project_id: int | None = None,
    release_id: int | None = None,
    detail: str | None = None,
) -> None:
    """Something Tower did on its own or learned from outside (a CI callback, a probe): no person."""
    await audit.record(
        session,
        at=at,
        actor=f"tower:{source}",
        actor_id=None,
        platform=source,
        action=action,
        project_id=project_id,
        release_id=release_id,
        detail=detail,
    )
