"""The courier: delivers the outbox, one queue per channel.

Each channel's messages go out in order, paced to the platform's rate limit (Slack allows about
one message per second per channel). A 429 is waited out for as long as Retry-After says; other
failures are retried with backoff, jitter and a cap. A send that may have gone through (a timeout
after the request left) is looked up on the platform, or re-sent with the same nonce, before it
is tried again, so a retry never posts twice.

Claims are leased on real time, never on Tower's (possibly fast-forwarded) clock, and a sender
confirms its claim is still its own right before it posts. Under `tower run` on PostgreSQL the
claims are taken on a database session the courier keeps for itself: when the replica dies, the
session goes and its claims are free at once (see storage/queries/outbox.py). A channel's queue
goes out one message at a time, pages first; a withdrawn message that may have gone out (its page
was acknowledged) is looked up and recorded as sent or cancelled, never posted.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.isolation import log_failure
from commands.engine.outbox import decode, tell_undeliverable
from commands.engine.ports import Clock
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from storage.database import Database
from storage.held_connection import close_held, held_connection, held_engine
from storage.queries import outbox
from storage.tables import OutboundMessage

log = logging.getLogger("tower.courier")

IN_PLACE_RETRIES = 3
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 300.0
MAX_RETRY_AFTER_S = 60.0
AMBIGUOUS = outbox.AMBIGUOUS
CLAIM_TIMEOUT_S = 10.0  # a claim or a confirmation that takes longer is not trusted
T = TypeVar("T")


async def _mark_sent(
    message_id: int,
    platform_message_id: str | None,
    now: datetime,
    pace_until: datetime,
    token: str,
    session: AsyncSession,
) -> None:
    """Recorded sent on the session claims are taken on (PostgreSQL): no pool checkout, no BEGIN."""
    await outbox.mark_sent(session, message_id, platform_message_id, now, pace_until, token)


def wall_now() -> datetime:
    """Real time, for leases: Tower's clock may run a week in a minute."""
    return datetime.now(UTC)


class RetryAfter(Exception):
    """The platform said: wait this long (HTTP 429)."""

    def __init__(self, seconds: float):
        super().__init__(f"rate limited for {seconds:g}s")
        self.seconds = seconds


class Transient(Exception):
    """Not sent; safe to try again (connection refused, 5xx)."""


class Ambiguous(Exception):
    """May have been sent (the request left and no answer came back)."""


class Permanent(Exception):
    """Will never work as it is (unknown channel, missing permission): do not retry."""


class Sender(Protocol):
    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        """Post; return the platform's message id."""
        ...

    async def find(self, channel_id: str, key: str, since: datetime) -> str | None:
        """The id of a message already posted with this key, if any (after an ambiguous failure)."""
        ...


@dataclass(frozen=True)
class Pace:
    per_message_s: float


DEFAULT_PACE = {"slack": Pace(1.0), "discord": Pace(0.25), "console": Pace(0.0)}


class Courier:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        senders: Mapping[str, Sender],
        pace: Mapping[str, Pace] | None = None,
        poll_s: float = 1.0,
        settings: Settings | None = None,
        own_session: bool = False,
    ):
        self.settings = settings  # to tell the team about a message Tower gave up on
        self.db = db
        self.id = uuid.uuid4().hex[:12]  # other couriers wait out the pacing after this one's posts
        # `tower run` on PostgreSQL: claims owned by a session this courier keeps (freed when it dies).
        self._claims = _OwnSession(db) if own_session and db.dialect == "postgresql" else None
        self.clock = clock
        self.senders = dict(senders)
        self.pace = {**DEFAULT_PACE, **(pace or {})}
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._workers: dict[str, asyncio.Task] = {}
        self._last_sent: dict[str, float] = {}
        self._loop_task: asyncio.Task | None = None

    # -- running in the background (tower run) -------------------------------------------------
    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._run(), name="courier")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        tasks = [t for t in [self._loop_task, *self._workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._claims is not None:
            await self._claims.close()

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch_due()
            except Exception as err:
                log_failure(log, "courier: could not read the outbox; trying again", err)
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation here.
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _dispatch_due(self) -> None:
        async with self.db.read() as session:
            rows = await outbox.due(
                session, self.clock.now(), wall_now(), platforms=list(self.senders), courier=self.id
            )
        for channel in dict.fromkeys(r.channel for r in rows):
            worker = self._workers.get(channel)
            if worker is None or worker.done():
                self._workers[channel] = asyncio.create_task(self.deliver_channel(channel), name=f"courier {channel}")

    # -- delivering ------------------------------------------------------------------------------
    async def drain(self) -> int:
        """Deliver everything due now, channel by channel; returns how many were sent."""
        sent = 0
        while True:  # more channels may wait than one read returns
            async with self.db.read() as session:
                rows = await outbox.due(
                    session, self.clock.now(), wall_now(), platforms=list(self.senders), courier=self.id
                )
            this_round = 0
            for channel in dict.fromkeys(r.channel for r in rows):
                this_round += await self.deliver_channel(channel)
            sent += this_round
            if not this_round:
                return sent

    async def deliver_channel(self, channel: str) -> int:
        """Deliver a channel's queue, head first, until it is empty, waiting, or another courier's."""
        sent, last = 0, None
        while True:
            if channel.partition(":")[0] not in self.senders:
                return sent  # its sender went away (this replica gave up the Discord gateway)
            try:
                claimed = await self._claim_next(channel, last)
                if claimed is None:
                    return sent  # nothing more may go now, or another courier has this channel
                row, token = claimed
                last = row.id
                outcome = await self._deliver(row, token)
            except Exception as err:  # the database went away mid-delivery: the next round retries
                log.warning("courier: delivering to %s stopped: %s", channel, type(err).__name__)
                return sent
            if outcome is None:
                return sent  # another courier has this channel now
            sent += outcome

    async def _claim_next(self, channel: str, skip: int | None) -> tuple[OutboundMessage, str] | None:
        now = self.clock.now()
        return await self._claiming(
            lambda s: outbox.claim_next(s, channel, now, wall_now(), courier=self.id, skip=skip)
        )

    async def _claiming(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if self._claims is not None:
            return await self._claims.run(work)
        async with asyncio.timeout(CLAIM_TIMEOUT_S), self.db.write() as session:
            return await work(session)

    async def _deliver(self, row, token: str) -> bool | None:
        """Post one claimed message. True: posted; False: dealt with otherwise (failed, later,
        found already out, cancelled); None: not ours any more (taken over by another courier)."""
        platform, _, channel_id = row.channel.partition(":")
        sender = self.senders[platform]
        reply = decode(row.payload)
        attempt = 0
        # A claim left behind means a courier died mid-send: the message may be out already.
        maybe_sent = (row.last_error or "").startswith(AMBIGUOUS) or row.claimed_until is not None
        if row.state == outbox.CANCELLING:
            return await self._settle_withdrawn(row, sender, channel_id, maybe_sent)
        # The claim itself confirms it while nothing has been waited for since it was taken.
        fresh = True
        while True:
            if await self._wait_for_pace(row.channel, platform):
                fresh = False
            try:
                message_id = None
                if maybe_sent:
                    fresh = False
                    message_id = await sender.find(channel_id, row.key, row.created_at)
                if (
                    message_id is None
                    and not fresh
                    and not await self._claiming(lambda s: outbox.confirm(s, row.id, token, wall_now()))
                ):
                    return await self._claim_lost(row, token, sender, channel_id, maybe_sent)
                if message_id is None and reply.meta.get("edit") and hasattr(sender, "edit"):
                    message_id = await sender.edit(channel_id, reply.meta["edit"], reply)  # a correction: same post
                elif message_id is None:
                    message_id = await sender.send(channel_id, reply, row.key)
                self._last_sent[row.channel] = asyncio.get_running_loop().time()
                pace_until = wall_now() + timedelta(seconds=self._pace_s(platform))
                # On the session the claims are taken on (PostgreSQL): no pool checkout, no BEGIN/COMMIT.
                await self._claiming(partial(_mark_sent, row.id, message_id, self.clock.now(), pace_until, token))
                return True
            except RetryAfter as err:
                fresh = False
                wait = min(err.seconds, MAX_RETRY_AFTER_S)
                log.info("courier: %s rate limited; waiting %.1fs", row.channel, wait)
                await asyncio.sleep(wait)
            except Permanent as err:
                log.warning("courier: giving up on message %s to %s: %s", row.id, row.channel, err)
                await self._give_up(row, str(err))
                return False
            except (Transient, Ambiguous) as err:
                fresh = False
                attempt += 1
                maybe_sent = maybe_sent or isinstance(err, Ambiguous)
                note = (AMBIGUOUS if maybe_sent else "") + (str(err) or type(err).__name__)
                if attempt > IN_PLACE_RETRIES:
                    await self._retry_later(row, note)
                    return False
                await asyncio.sleep(_backoff(attempt, cap=5.0))
            except Exception as err:
                # Not a failure any sender reports (a bug, a library's surprise): one attempt, logged,
                # and looked up before it is tried again, since it may have gone out.
                log.warning("courier: message %s to %s failed: %s: %s", row.id, row.channel, type(err).__name__, err)
                await self._retry_later(row, f"{AMBIGUOUS}{type(err).__name__}: {err}")
                return False

    async def _claim_lost(self, row, token: str, sender: Sender, channel_id: str, maybe_sent: bool) -> bool | None:
        """The confirmation before posting failed: withdrawn meanwhile (settle it), or taken over."""
        async with self.db.read() as session:
            now_row = await outbox.by_key(session, row.key)
        if now_row is not None and now_row.state == outbox.CANCELLING and now_row.claim_token == token:
            return await self._settle_withdrawn(row, sender, channel_id, maybe_sent)
        log.info("courier: message %s to %s was taken over by another courier; not posting it", row.id, row.channel)
        return None

    async def _settle_withdrawn(self, row, sender: Sender, channel_id: str, maybe_sent: bool) -> bool:
        """A withdrawn message: if it may have gone out, ask the platform; record what is true."""
        try:
            message_id = await sender.find(channel_id, row.key, row.created_at) if maybe_sent else None
        except Exception as err:  # can't tell yet: look again later, never post it
            await self._retry_later(row, f"{AMBIGUOUS}{type(err).__name__}: {err}")
            return False
        async with self.db.write() as session:
            if message_id is not None:
                await outbox.mark_sent(session, row.id, message_id, self.clock.now())
            else:
                await outbox.mark_cancelled(session, row.id)
        return False

    async def _retry_later(self, row, note: str) -> None:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            log.warning("courier: message %s to %s failed %d times: %s", row.id, row.channel, MAX_ATTEMPTS, note)
            await self._give_up(row, note)
            return
        async with self.db.write() as session:
            # The backoff is real seconds; next_attempt_at is on Tower's clock, which a rehearsal runs fast.
            wait = _backoff(row.attempts + 1, cap=MAX_BACKOFF_S) * getattr(self.clock, "rate", 1.0)
            at = self.clock.now() + timedelta(seconds=wait)
            await outbox.retry_later(session, row.id, at, note)

    async def _give_up(self, row, reason: str) -> None:
        """Mark it failed and, in the same transaction, tell the team through its other channels."""
        async with self.db.write() as session:
            await outbox.mark_failed(session, row.id, reason)
            if self.settings is not None:
                await tell_undeliverable(session, self.settings, row, reason, self.clock.now())

    def _pace_s(self, platform: str) -> float:
        return self.pace.get(platform, Pace(0.0)).per_message_s

    async def _wait_for_pace(self, channel: str, platform: str) -> bool:
        """Wait out the channel's pacing; whether there was anything to wait."""
        pace = self._pace_s(platform)
        last = self._last_sent.get(channel)
        if last is None or pace <= 0:
            return False
        delay = last + pace - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)
            return True
        return False


def _backoff(attempt: int, cap: float) -> float:
    """Exponential backoff with full jitter: spreads retries from many replicas apart."""
    return random.uniform(0, min(cap, 0.5 * 2**attempt))


class _OwnSession:
    """A PostgreSQL session the courier keeps: its claims are taken on it, so they are owned by it
    and free as soon as it ends (the replica died, or was fenced off by a standby)."""

    def __init__(self, db: Database, seconds: float = 5.0):
        self.engine = held_engine(db, seconds)
        self.seconds = seconds
        self.conn: AsyncConnection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on one connection

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                async with asyncio.timeout(CLAIM_TIMEOUT_S):
                    if self.conn is None:
                        self.conn = await held_connection(self.engine, self.seconds)
                    # Not expired on commit: the claimed row is read after.
                    async with AsyncSession(bind=self.conn, expire_on_commit=False) as session:
                        result = await work(session)
                        await session.commit()
                    return result
            except BaseException:
                await self._drop()  # a broken or silent connection: the next claim opens a new one
                raise

    async def _drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            await close_held(conn, 1.0)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
        await self.engine.dispose()
