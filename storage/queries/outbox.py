"""The outbox: chat messages owed to channels, claimed and delivered by the courier.

A message is claimed with a conditional UPDATE (a lease), so two couriers — two replicas, or a
courier and a shell — never send the same row; the unique key makes enqueueing idempotent.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import OutboundMessage

PENDING, SENT, FAILED = "pending", "sent", "failed"


async def enqueue(
    session: AsyncSession, *, key: str, channel: str, payload: str, now: datetime, due: datetime | None = None
) -> bool:
    """Queue a message once (to go out at `due`, default now). False if this key was queued before."""
    values = {
        "key": key,
        "channel": channel,
        "payload": payload,
        "state": PENDING,
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    result = await session.exec(insert(OutboundMessage).values(**values).on_conflict_do_nothing(index_elements=["key"]))
    return result.rowcount == 1


async def due(
    session: AsyncSession,
    now: datetime,
    platforms: Collection[str] | None = None,
    limit: int = 200,
    channel: str | None = None,
) -> list[OutboundMessage]:
    query = (
        select(OutboundMessage)
        .where(OutboundMessage.state == PENDING, col(OutboundMessage.next_attempt_at) <= now)
        .where(or_(col(OutboundMessage.claimed_until).is_(None), col(OutboundMessage.claimed_until) < now))
        .order_by(col(OutboundMessage.id))
        .limit(limit)
    )
    if channel is not None:
        query = query.where(OutboundMessage.channel == channel)
    if platforms is not None:
        if not platforms:
            return []  # nobody to deliver with (a replica without chat adapters)
        query = query.where(or_(*(col(OutboundMessage.channel).startswith(f"{p}:") for p in platforms)))
    return list((await session.exec(query)).all())


async def claim(session: AsyncSession, message_id: int, now: datetime, until: datetime) -> bool:
    result = await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id, col(OutboundMessage.state) == PENDING)
        .where(or_(col(OutboundMessage.claimed_until).is_(None), col(OutboundMessage.claimed_until) < now))
        .values(claimed_until=until)
    )
    return result.rowcount == 1


async def mark_sent(session: AsyncSession, message_id: int, platform_message_id: str | None, now: datetime) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id)
        .values(
            state=SENT,
            sent_at=now,
            platform_message_id=platform_message_id,
            claimed_until=None,
            attempts=OutboundMessage.attempts + 1,
        )
    )


async def retry_later(session: AsyncSession, message_id: int, at: datetime, error: str) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id)
        .values(next_attempt_at=at, last_error=error[:1000], claimed_until=None, attempts=OutboundMessage.attempts + 1)
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id)
        .values(state=FAILED, last_error=error[:1000], claimed_until=None, attempts=OutboundMessage.attempts + 1)
    )


async def by_key(session: AsyncSession, key: str) -> OutboundMessage | None:
    return (await session.exec(select(OutboundMessage).where(OutboundMessage.key == key))).first()


async def all_for(session: AsyncSession, channel: str) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(OutboundMessage.channel == channel).order_by(col(OutboundMessage.id))
    return list((await session.exec(query)).all())


async def with_key_prefix(session: AsyncSession, prefix: str) -> list[OutboundMessage]:
    query = select(OutboundMessage).where(col(OutboundMessage.key).startswith(prefix)).order_by(col(OutboundMessage.id))
    return list((await session.exec(query)).all())


async def rewrite(session: AsyncSession, message_id: int, payload: str) -> bool:
    """Change what a message will say, if it has not gone out yet."""
    result = await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id, col(OutboundMessage.state) == PENDING)
        .values(payload=payload)
    )
    return result.rowcount == 1


async def pending_by_platform(session: AsyncSession) -> dict[str, int]:
    """How many messages wait to go out, per platform (the queue depths operators watch)."""
    platform = (
        func.substr(OutboundMessage.channel, 1, func.instr(OutboundMessage.channel, ":") - 1)
        if dialect(session) == "sqlite"
        else func.split_part(OutboundMessage.channel, ":", 1)
    )
    rows = await session.exec(select(platform, func.count()).where(OutboundMessage.state == PENDING).group_by(platform))
    return dict(rows.all())


async def last_id(session: AsyncSession) -> int:
    """The newest message's id (0 when none): what was queued after a moment has a greater one."""
    return (await session.exec(select(func.max(OutboundMessage.id)))).one() or 0


async def waiting_since(
    session: AsyncSession, after_id: int, now: datetime, delivered_here: Collection[str]
) -> list[OutboundMessage]:
    """Messages queued after `after_id`, due now and still pending, for platforms other than
    `delivered_here` (a shell delivers console posts; Slack, Discord and webhooks wait for `tower run`)."""
    query = (
        select(OutboundMessage)
        .where(col(OutboundMessage.id) > after_id, OutboundMessage.state == PENDING)
        .where(col(OutboundMessage.next_attempt_at) <= now)
        .order_by(col(OutboundMessage.id))
    )
    rows = (await session.exec(query)).all()
    return [r for r in rows if r.channel.partition(":")[0] not in delivered_here]
