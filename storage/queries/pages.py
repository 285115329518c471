"""Pages and their escalation state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.queries import outbox
from storage.queries.bundle import preloaded
from storage.tables import Page

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


async def create(
    session: AsyncSession,
    *,
    release_id: int,
    message: str,
    source: str,
    created_by_id: int | None,
    now: datetime,
    next_step_at: datetime | None,
) -> Page:
    page = Page(
        release_id=release_id,
        message=message,
        source=source,
        state=OPEN,
        step=0,
        next_step_at=next_step_at,
        created_at=now,
        created_by_id=created_by_id,
    )
    session.add(page)
    await session.flush()
    return page


async def get(session: AsyncSession, page_id: int) -> Page | None:
    return (await session.exec(select(Page).where(Page.id == page_id))).first()


async def due(session: AsyncSession, now: datetime, limit: int = 100) -> list[Page]:
    query = (
        select(Page)
        .where(Page.state == OPEN, col(Page.next_step_at) <= now)
        .order_by(col(Page.next_step_at))
        .limit(limit)
    )
    return list((await session.exec(query)).all())


async def advance(
    session: AsyncSession, page_id: int, from_step: int, next_step_at: datetime | None, to_step: int | None = None
) -> bool:
    """Take the next step (or jump to `to_step`, past skipped ones), once: only if the page is still
    open and still at `from_step`."""
    result = await session.exec(
        update(Page)
        .where(col(Page.id) == page_id, col(Page.step) == from_step, col(Page.state) == OPEN)
        .values(step=from_step + 1 if to_step is None else to_step, next_step_at=next_step_at)
    )
    return result.rowcount == 1


async def reschedule(session: AsyncSession, page_id: int, at: datetime) -> None:
    await session.exec(update(Page).where(col(Page.id) == page_id, col(Page.state) == OPEN).values(next_step_at=at))


async def close(session: AsyncSession, page_id: int, state: str, person_id: int | None, now: datetime) -> bool:
    result = await session.exec(
        update(Page)
        .where(col(Page.id) == page_id, col(Page.state) == OPEN)
        .values(state=state, next_step_at=None, acknowledged_at=now, acknowledged_by_id=person_id)
    )
    return result.rowcount == 1


async def cancel_undelivered(session: AsyncSession, page_id: int) -> int:
    """Messages of this page still waiting in the outbox are dropped: an acknowledged page goes quiet.
    One that may already have gone out is looked up by the courier first (the history stays true)."""
    return await outbox.withdraw(session, f"page:{page_id}:step:")


async def of_release(session: AsyncSession, release_id: int, states: tuple[str, ...] = (OPEN,)) -> list[Page]:
    loaded = preloaded(session, "page", release_id)
    if loaded is not None:
        return [p for p in loaded if p.state in states]
    query = select(Page).where(Page.release_id == release_id, col(Page.state).in_(states)).order_by(col(Page.id))
    return list((await session.exec(query)).all())


async def open_pages(session: AsyncSession) -> list[Page]:
    return list((await session.exec(select(Page).where(Page.state == OPEN).order_by(col(Page.id)))).all())


async def count_by_state(session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(select(Page.state, func.count()).group_by(Page.state))
    return dict(rows.all())
