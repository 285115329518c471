"""The outbox: chat messages owed to channels, claimed and delivered by the courier.

A message is claimed with a conditional UPDATE, so two couriers — two replicas, or a courier and
a shell — never send the same row; the unique key makes enqueueing idempotent. A claim holds while
its lease (real time, never Tower's rehearsal clock) runs and, on PostgreSQL, while the database
session that took it (its owner) is alive: a replica that dies frees its claims at once. Each
claim has a token the sender confirms right before it posts.

A channel's messages go out one at a time, pages first and otherwise in order: a message waits
while any message of its channel is claimed, while an earlier one is due, and (a page's message)
while an earlier page message of its channel is unsent at all.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, case, exists, func, literal_column, not_, or_, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import OutboundMessage

PENDING, SENT, FAILED, CANCELLED = "pending", "sent", "failed", "cancelled"
CANCELLING = "cancelling"  # withdrawn while it may have gone out: looked up, then marked sent or cancelled
OWED = (PENDING, CANCELLING)
AMBIGUOUS = "ambiguous: "  # last_error prefix: the send may have gone through
LEASE = timedelta(minutes=2)  # real time; a sender renews it right before it posts
PAGE_PREFIX = "page:"

# A PostgreSQL session, named so that a new session reusing a dead one's pid is not mistaken for it.
SESSION_ID = "pid::text || '.' || (extract(epoch FROM backend_start) * 1000000)::bigint::text"
LIVE_SESSIONS: Select = sa_select(literal_column(SESSION_ID)).select_from(text("pg_stat_activity"))
THIS_SESSION = LIVE_SESSIONS.where(literal_column("pid") == func.pg_backend_pid()).scalar_subquery()


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


def _priority(row) -> ColumnElement:
    return case((col(row.key).startswith(PAGE_PREFIX), 0), else_=1)


def _at(name: str) -> BindParameter:
    """A moment bound at run time, stored as the table's timestamps are."""
    return bindparam(name, type_=OutboundMessage.__table__.c.claimed_until.type)  # type: ignore[attr-defined]


def _claimed(row, postgres: bool) -> ColumnElement:
    """The row's claim still holds: its lease runs and (PostgreSQL) its owner's session lives."""
    held = and_(col(row.claimed_until).is_not(None), col(row.claimed_until) > _at("wall_now"))
    if not postgres:
        return held
    return and_(held, or_(col(row.claim_owner).is_(None), col(row.claim_owner).in_(LIVE_SESSIONS)))


def _may_go(postgres: bool, courier: bool) -> ColumnElement:
    """The message is owed and due, and nothing else in its channel must go (or is going) first:
    no claim in the channel, no earlier message that may go now, no earlier page message unsent
    (if it is a page's). A page message held back by an earlier one retrying later holds back no
    routine notice. Nor may it go while the channel's pacing holds after another courier's post
    (`courier`: the courier paces its own posts itself; its claims' tokens begin with the bound
    `courier_prefix`). Bound parameters: `now` (Tower's clock), `wall_now` (real time)."""
    now = _at("now")
    other, earlier_page = aliased(OutboundMessage), aliased(OutboundMessage)
    me = OutboundMessage
    before = or_(_priority(other) < _priority(me), and_(_priority(other) == _priority(me), col(other.id) < col(me.id)))
    both_pages = and_(col(other.key).startswith(PAGE_PREFIX), col(me.key).startswith(PAGE_PREFIX))
    held_back = and_(
        col(other.key).startswith(PAGE_PREFIX),
        exists().where(
            col(earlier_page.channel) == col(other.channel),
            col(earlier_page.key).startswith(PAGE_PREFIX),
            col(earlier_page.state).in_(OWED),
            col(earlier_page.id) < col(other.id),
            col(earlier_page.next_attempt_at) > now,
        ),
    )
    paced = and_(col(other.state) == SENT, col(other.claimed_until) > _at("wall_now"))
    if courier:
        paced = and_(paced, not_(func.coalesce(col(other.claim_token), "").startswith(bindparam("courier_prefix"))))
    ahead = exists().where(
        col(other.channel) == col(me.channel),
        col(other.id) != col(me.id),
        or_(
            and_(
                col(other.state).in_(OWED),
                or_(
                    _claimed(other, postgres),
                    and_(before, both_pages),
                    and_(before, col(other.next_attempt_at) <= now, not_(held_back)),
                ),
            ),
            paced,
        ),
    )
    return and_(
        col(me.state).in_(OWED),
        col(me.next_attempt_at) <= now,
        not_(_claimed(me, postgres)),
        not_(ahead),
    )


# The courier asks these several times per message: built once per shape (building one costs
# milliseconds of Python; the values travel as bound parameters).
@functools.cache
def _due_query(postgres: bool, courier: bool, limit: int, by_channel: bool, platforms: tuple[str, ...] | None):
    query = (
        select(OutboundMessage)
        .where(_may_go(postgres, courier))
        .order_by(_priority(OutboundMessage), col(OutboundMessage.id))
        .limit(limit)
    )
    if by_channel:
        query = query.where(OutboundMessage.channel == bindparam("channel"))
    if platforms is not None:
        query = query.where(or_(*(col(OutboundMessage.channel).startswith(f"{p}:") for p in platforms)))
    return query


@functools.cache
def _claim_query(postgres: bool, courier: bool):
    return (
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == bindparam("message_id"), _may_go(postgres, courier))
        .values(
            claimed_until=_at("lease_until"),
            claim_token=bindparam("token"),
            claim_owner=THIS_SESSION if postgres else None,
        )
        # A row read in the same session (claim_next) keeps what it said before the claim.
        .execution_options(synchronize_session=False)
    )


def _moments(now: datetime, wall_now: datetime, courier: str | None) -> dict[str, object]:
    return {"now": now, "wall_now": wall_now, **({"courier_prefix": f"{courier}:"} if courier is not None else {})}


async def due(
    session: AsyncSession,
    now: datetime,
    wall_now: datetime,
    platforms: Collection[str] | None = None,
    limit: int = 200,
    channel: str | None = None,
    courier: str | None = None,
) -> list[OutboundMessage]:
    """Messages that may go out now (`now` on Tower's clock; claims on `wall_now`, real time): at
    most one per channel, the head of its queue."""
    if platforms is not None and not platforms:
        return []  # nobody to deliver with (a replica without chat adapters)
    postgres = dialect(session) == "postgresql"
    shape = tuple(sorted(platforms)) if platforms is not None else None
    query = _due_query(postgres, courier is not None, limit, channel is not None, shape)
    params = _moments(now, wall_now, courier) | ({"channel": channel} if channel is not None else {})
    return list((await session.exec(query, params=params)).all())


async def claim(
    session: AsyncSession, message_id: int, now: datetime, wall_now: datetime, courier: str | None = None
) -> str | None:
    """Claim a message that may go out now; its token, or None if it may not (or another has it).
    On PostgreSQL the session running this is the claim's owner: run it on one the process keeps."""
    postgres = dialect(session) == "postgresql"
    token = f"{courier or '-'}:{uuid.uuid4().hex[:16]}"
    params = _moments(now, wall_now, courier) | {
        "message_id": message_id,
        "lease_until": wall_now + LEASE,
        "token": token,
    }
    result = await session.exec(_claim_query(postgres, courier is not None), params=params)
    return token if result.rowcount == 1 else None


async def claim_next(
    session: AsyncSession,
    channel: str,
    now: datetime,
    wall_now: datetime,
    courier: str | None = None,
    skip: int | None = None,
) -> tuple[OutboundMessage, str] | None:
    """The head of a channel's queue, as it was read, and the claim on it (its token): in one
    transaction, so a courier reads and claims a channel's next message at once. None when the
    channel has nothing that may go now (or its head is `skip`, the message just dealt with)."""
    rows = await due(session, now, wall_now, channel=channel, limit=1, courier=courier)
    if not rows or rows[0].id == skip:
        return None
    token = await claim(session, rows[0].id, now, wall_now, courier=courier)
    return (rows[0], token) if token is not None else None


async def confirm(session: AsyncSession, message_id: int, token: str, wall_now: datetime) -> bool:
    """Right before posting: is the claim still this sender's? Renews its lease if so."""
    postgres = dialect(session) == "postgresql"
    result = await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id, col(OutboundMessage.claim_token) == token)
        .where(col(OutboundMessage.state) == PENDING)
        .values(claimed_until=wall_now + LEASE, claim_owner=THIS_SESSION if postgres else None)
    )
    return result.rowcount == 1


def _unclaimed() -> dict:
    return {"claimed_until": None, "claim_owner": None, "claim_token": None}


async def mark_sent(
    session: AsyncSession,
    message_id: int,
    platform_message_id: str | None,
    now: datetime,
    pace_until: datetime | None = None,
    token: str | None = None,
) -> None:
    """Sent. Until `pace_until` (real time) the channel waits for every courier but the one whose
    claim `token` this was: the platform's pacing holds across replicas."""
    params = {
        "message_id": message_id,
        "sent_at": now,
        "platform_message_id": platform_message_id,
        "pace_until": pace_until,
        "token": token if pace_until is not None else None,
    }
    await session.exec(_sent_query(), params=params)


@functools.cache
def _sent_query():
    return (
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == bindparam("message_id"))
        .values(
            state=SENT,
            sent_at=_at("sent_at"),
            platform_message_id=bindparam("platform_message_id"),
            claimed_until=_at("pace_until"),
            claim_owner=None,
            claim_token=bindparam("token"),
            attempts=OutboundMessage.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )


async def retry_later(session: AsyncSession, message_id: int, at: datetime, error: str) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id)
        .values(next_attempt_at=at, last_error=error[:1000], attempts=OutboundMessage.attempts + 1, **_unclaimed())
    )


async def mark_failed(session: AsyncSession, message_id: int, error: str) -> None:
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id)
        .values(state=FAILED, last_error=error[:1000], attempts=OutboundMessage.attempts + 1, **_unclaimed())
    )


async def mark_cancelled(session: AsyncSession, message_id: int) -> None:
    """A withdrawn message that, looked up, never went out."""
    await session.exec(
        update(OutboundMessage)
        .where(col(OutboundMessage.id) == message_id, col(OutboundMessage.state) == CANCELLING)
        .values(state=CANCELLED, **_unclaimed())
    )


async def withdraw(session: AsyncSession, key_prefix: str) -> int:
    """Messages not yet out are dropped: cancelled if they surely never went out; if one may have
    (a claim taken, an ambiguous send), it waits for the courier to look it up and record the truth."""
    owed = (col(OutboundMessage.key).startswith(key_prefix), col(OutboundMessage.state) == PENDING)
    maybe_out = or_(
        col(OutboundMessage.claimed_until).is_not(None),
        func.coalesce(col(OutboundMessage.last_error), "").startswith(AMBIGUOUS),
    )
    cancelled = await session.exec(update(OutboundMessage).where(*owed, not_(maybe_out)).values(state=CANCELLED))
    looked_up = await session.exec(update(OutboundMessage).where(*owed, maybe_out).values(state=CANCELLING))
    return cancelled.rowcount + looked_up.rowcount


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
