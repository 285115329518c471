"""The courier: delivers the outbox, one queue per channel.

Each channel's messages go out in order, paced to the platform's rate limit (Slack allows about
one message per second per channel). A 429 is waited out for as long as Retry-After says; other
failures are retried with backoff, jitter and a cap. A send that may have gone through (a timeout
after the request left) is looked up on the platform, or re-sent with the same nonce, before it
is tried again, so a retry never posts twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from commands.engine.outbox import decode, tell_undeliverable
from commands.engine.ports import Clock
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from storage.database import Database
from storage.queries import outbox

log = logging.getLogger("tower.courier")

LEASE = timedelta(minutes=2)
IN_PLACE_RETRIES = 3
MAX_ATTEMPTS = 10
MAX_BACKOFF_S = 300.0
MAX_RETRY_AFTER_S = 60.0
AMBIGUOUS = "ambiguous: "


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
    ):
        self.settings = settings  # to tell the team about a message Tower gave up on
        self.db = db
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

    async def _run(self) -> None:
        while True:
            try:
                await self._dispatch_due()
            except Exception:
                log.exception("courier: could not read the outbox; trying again")
            try:
                # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation here.
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _dispatch_due(self) -> None:
        async with self.db.read() as session:
            rows = await outbox.due(session, self.clock.now(), platforms=list(self.senders))
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
                rows = await outbox.due(session, self.clock.now(), platforms=list(self.senders))
            this_round = 0
            for channel in dict.fromkeys(r.channel for r in rows):
                this_round += await self.deliver_channel(channel)
            sent += this_round
            if not this_round:
                return sent

    async def deliver_channel(self, channel: str) -> int:
        sent = 0
        while True:
            if channel.partition(":")[0] not in self.senders:
                return sent  # its sender went away (this replica gave up the Discord gateway)
            async with self.db.read() as session:
                rows = await outbox.due(session, self.clock.now(), channel=channel, limit=50)
            if not rows:
                return sent
            # Every row leaves the due set: sent, failed, rescheduled, or claimed by someone else.
            for row in rows:
                try:
                    sent += await self._deliver(row)
                except Exception as err:  # the database went away mid-delivery: the next round retries
                    log.warning("courier: delivering to %s stopped: %s", channel, type(err).__name__)
                    return sent

    async def _deliver(self, row) -> bool:
        now = self.clock.now()
        async with self.db.write() as session:
            if not await outbox.claim(session, row.id, now, now + LEASE):
                return False  # another courier has it
        platform, _, channel_id = row.channel.partition(":")
        sender = self.senders[platform]
        reply = decode(row.payload)
        attempt = 0
        # An expired lease means a courier died mid-send: the message may be out already.
        maybe_sent = (row.last_error or "").startswith(AMBIGUOUS) or row.claimed_until is not None
        while True:
            await self._wait_for_pace(row.channel, platform)
            try:
                message_id = None
                if maybe_sent:
                    message_id = await sender.find(channel_id, row.key, row.created_at)
                if message_id is None and reply.meta.get("edit") and hasattr(sender, "edit"):
                    message_id = await sender.edit(channel_id, reply.meta["edit"], reply)  # a correction: same post
                elif message_id is None:
                    message_id = await sender.send(channel_id, reply, row.key)
                self._last_sent[row.channel] = asyncio.get_running_loop().time()
                async with self.db.write() as session:
                    await outbox.mark_sent(session, row.id, message_id, self.clock.now())
                return True
            except RetryAfter as err:
                wait = min(err.seconds, MAX_RETRY_AFTER_S)
                log.info("courier: %s rate limited; waiting %.1fs", row.channel, wait)
                await asyncio.sleep(wait)
            except Permanent as err:
                log.warning("courier: giving up on message %s to %s: %s", row.id, row.channel, err)
                await self._give_up(row, str(err))
                return False
            except (Transient, Ambiguous) as err:
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

    async def _retry_later(self, row, note: str) -> None:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            log.warning("courier: message %s to %s failed %d times: %s", row.id, row.channel, MAX_ATTEMPTS, note)
            await self._give_up(row, note)
            return
        async with self.db.write() as session:
            at = self.clock.now() + timedelta(seconds=_backoff(row.attempts + 1, cap=MAX_BACKOFF_S))
            await outbox.retry_later(session, row.id, at, note)

    async def _give_up(self, row, reason: str) -> None:
        """Mark it failed and, in the same transaction, tell the team through its other channels."""
        async with self.db.write() as session:
            await outbox.mark_failed(session, row.id, reason)
            if self.settings is not None:
                await tell_undeliverable(session, self.settings, row, reason, self.clock.now())

    async def _wait_for_pace(self, channel: str, platform: str) -> None:
        pace = self.pace.get(platform, Pace(0.0)).per_message_s
        last = self._last_sent.get(channel)
        if last is None or pace <= 0:
            return
        delay = last + pace - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)


def _backoff(attempt: int, cap: float) -> float:
    """Exponential backoff with full jitter: spreads retries from many replicas apart."""
    return random.uniform(0, min(cap, 0.5 * 2**attempt))
