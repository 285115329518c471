"""Operations: side effects recorded before they are performed, claimed with a lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import Operation


async def get(session: AsyncSession, key: str) -> Operation | None:
    return (await session.exec(select(Operation).where(Operation.key == key))).first()


async def of_release(session: AsyncSession, release_id: int, kind: str) -> Operation | None:
    """The release's operation of this kind (the integrate pipeline after a ship), if recorded."""
    query = select(Operation).where(col(Operation.release_id) == release_id, col(Operation.kind) == kind)
    return (await session.exec(query.order_by(col(Operation.id)))).first()


async def start(
    session: AsyncSession, *, key: str, kind: str, release_id: int | None, payload: str, now: datetime, lease: timedelta
) -> Operation | None:
    """Record the operation (once, at `now` on Tower's clock) and claim it for `lease` of real time:
    Tower's clock may run a week in a minute in a rehearsal, and a claim must hold while its holder
    works. None if someone else holds the claim or it is done; otherwise the operation, with
    whatever payload it was first recorded with."""
    wall_now = datetime.now(UTC)
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    await session.exec(
        insert(Operation)
        .values(
            key=key, kind=kind, release_id=release_id, state="pending", payload=payload, created_at=now, updated_at=now
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    claimed = await session.exec(
        update(Operation)
        .where(col(Operation.key) == key, col(Operation.state) == "pending")
        .where(or_(col(Operation.claimed_until).is_(None), col(Operation.claimed_until) < wall_now))
        .values(claimed_until=wall_now + lease, updated_at=now)
    )
    if claimed.rowcount != 1:
        return None
    return await get(session, key)


async def update_payload(session: AsyncSession, key: str, payload: str, now: datetime) -> None:
    await session.exec(update(Operation).where(col(Operation.key) == key).values(payload=payload, updated_at=now))


async def finish(session: AsyncSession, key: str, result: str, now: datetime) -> None:
    await session.exec(
        update(Operation)
        .where(col(Operation.key) == key)
        .values(state="done", result=result, claimed_until=None, updated_at=now)
    )


async def release_claim(session: AsyncSession, key: str, error: str, now: datetime) -> None:
    """The attempt failed; leave the operation pending for the next try."""
    await session.exec(
        update(Operation)
        .where(col(Operation.key) == key)
        .values(claimed_until=None, last_error=error[:2000], updated_at=now)
    )
