"""The courier delivers the outbox exactly once, in order per channel, within rate limits."""

import asyncio
import itertools
import time

import pytest
from sqlalchemy import update
from sqlmodel import col

from bot.courier import MAX_ATTEMPTS, Ambiguous, Courier, Pace, Permanent, RetryAfter, Transient
from commands.engine import outbox as commands_outbox
from commands.engine.reply import Reply
from storage.queries import outbox
from storage.tables import OutboundMessage


class ChannelLog:
    """An in-memory chat platform: channels of posted messages, with scripted failures."""

    def __init__(self):
        self.posted: dict[str, list[tuple[str, str, float]]] = {}
        self.script: list[Exception | tuple[str, Exception]] = []  # raised by the next sends
        self.attempts = 0

    async def send(self, channel_id, reply, key):
        self.attempts += 1
        if self.script:
            failure = self.script.pop(0)
            if isinstance(failure, tuple):  # ("posted", Ambiguous): it went out, then the line dropped
                self._post(channel_id, reply, key)
                raise failure[1]
            raise failure
        return self._post(channel_id, reply, key)

    def _post(self, channel_id, reply, key):
        messages = self.posted.setdefault(channel_id, [])
        messages.append((reply.text, key, time.monotonic()))
        return f"m{len(messages)}"

    async def find(self, channel_id, key, since):
        for i, (_, k, _) in enumerate(self.posted.get(channel_id, []), 1):
            if k == key:
                return f"m{i}"
        return None

    def texts(self, channel_id):
        return [t for t, _, _ in self.posted.get(channel_id, [])]


async def queue(db, clock, channel, text, key):
    async with db.write() as s:
        return await commands_outbox.post(s, channel, Reply(text=text), key=key, now=clock.now())


@pytest.fixture
def platform():
    return ChannelLog()


@pytest.fixture
def courier(database, clock, platform):
    return Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)})


async def test_messages_go_out_once_in_order_per_channel(database, clock, platform, courier):
    for i in range(3):
        await queue(database, clock, "slack:C1", f"one-{i}", f"k1-{i}")
    await queue(database, clock, "slack:C2", "two", "k2")
    assert await courier.drain() == 4
    assert await courier.drain() == 0
    assert platform.texts("C1") == ["one-0", "one-1", "one-2"] and platform.texts("C2") == ["two"]


async def test_queueing_the_same_key_twice_posts_once(database, clock, platform, courier):
    assert await queue(database, clock, "slack:C1", "hello", "same")
    assert not await queue(database, clock, "slack:C1", "hello again", "same")
    await courier.drain()
    assert platform.texts("C1") == ["hello"]


async def test_a_rate_limit_is_waited_out_and_then_posts_once(database, clock, platform, courier):
    platform.script = [RetryAfter(0.3)]
    await queue(database, clock, "slack:C1", "hi", "k")
    started = time.monotonic()
    assert await courier.drain() == 1
    assert time.monotonic() - started >= 0.3
    assert platform.texts("C1") == ["hi"] and platform.attempts == 2


async def test_pacing_spaces_messages_in_one_channel(database, clock, platform):
    courier = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.2)})
    for i in range(3):
        await queue(database, clock, "slack:C1", f"m{i}", f"k{i}")
    await courier.drain()
    times = [t for _, _, t in platform.posted["C1"]]
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(times))


async def test_a_send_that_went_out_before_the_line_dropped_is_not_repeated(database, clock, platform, courier):
    platform.script = [("posted", Ambiguous("timeout"))]
    await queue(database, clock, "slack:C1", "once", "k")
    assert await courier.drain() == 1
    assert platform.texts("C1") == ["once"]
    async with database.read() as s:
        row = await outbox.by_key(s, "k@slack:C1")
    assert row.state == "sent" and row.platform_message_id == "m1"


async def test_transient_failures_are_retried_in_place(database, clock, platform, courier):
    platform.script = [Transient("503"), Transient("503")]
    await queue(database, clock, "slack:C1", "eventually", "k")
    assert await courier.drain() == 1
    assert platform.texts("C1") == ["eventually"] and platform.attempts == 3


async def test_persistent_failures_are_rescheduled_not_lost(database, clock, platform, courier):
    platform.script = [Transient("503")] * 4
    await queue(database, clock, "slack:C1", "later", "k")
    assert await courier.drain() == 0
    async with database.read() as s:
        row = await outbox.by_key(s, "k@slack:C1")
    assert row.state == "pending" and row.next_attempt_at > clock.now() and "503" in row.last_error
    clock.advance(minutes=10)
    assert await courier.drain() == 1
    assert platform.texts("C1") == ["later"]


async def test_a_permanent_failure_stops_retrying_and_keeps_the_reason(database, clock, platform, courier):
    platform.script = [Permanent("channel_not_found")]
    await queue(database, clock, "slack:C1", "lost channel", "k")
    await queue(database, clock, "slack:C1", "next", "k2")
    await courier.drain()
    async with database.read() as s:
        row = await outbox.by_key(s, "k@slack:C1")
    assert (row.state, row.last_error) == ("failed", "channel_not_found")
    assert platform.texts("C1") == ["next"]


async def test_two_couriers_never_send_the_same_message(database, clock, platform):
    first = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)})
    second = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)})
    for i in range(20):
        await queue(database, clock, f"slack:C{i % 3}", f"m{i}", f"k{i}")
    counts = await asyncio.gather(first.drain(), second.drain())
    assert sum(counts) == 20
    assert sorted(t for c in platform.posted.values() for t, _, _ in c) == sorted(f"m{i}" for i in range(20))


async def test_the_background_courier_delivers_when_woken(database, clock, platform, courier):
    courier.start()
    try:
        await queue(database, clock, "slack:C1", "wake up", "k")
        courier.wake()
        for _ in range(100):
            if platform.texts("C1"):
                break
            await asyncio.sleep(0.02)
    finally:
        await courier.stop()
    assert platform.texts("C1") == ["wake up"]


async def test_messages_for_platforms_without_a_sender_wait(database, clock, platform, courier):
    await queue(database, clock, "discord:123456789012345678", "not here", "k")
    assert await courier.drain() == 0
    async with database.read() as s:
        assert (await outbox.by_key(s, "k@discord:123456789012345678")).state == "pending"


async def test_a_courier_that_died_mid_send_does_not_cause_a_second_post(database, clock, platform, courier):
    from datetime import timedelta

    from bot.courier import wall_now

    await queue(database, clock, "slack:C1", "sent just before the crash", "k")
    async with database.write() as s:  # the dead courier's claim (leased on real time), and its post
        row = await outbox.by_key(s, "k@slack:C1")
        assert await outbox.claim(s, row.id, clock.now(), wall_now() - timedelta(minutes=1))
    await platform.send("C1", Reply(text="sent just before the crash"), "k@slack:C1")
    clock.advance(minutes=3)  # Tower's clock does not end a lease: the claim is still the dead one's
    assert await courier.drain() == 0
    async with database.write() as s:  # a minute later in real time its lease has run out
        await s.exec(update(OutboundMessage).where(col(OutboundMessage.id) == row.id).values(claimed_until=wall_now()))
    assert await courier.drain() == 1  # looked up, found, recorded: not posted again
    assert platform.texts("C1") == ["sent just before the crash"]
    async with database.read() as s:
        assert (await outbox.by_key(s, "k@slack:C1")).state == "sent"


async def test_drain_delivers_every_channel_even_when_more_wait_than_one_read_returns(
    database, clock, platform, courier
):
    for n in range(230):  # more channels than the courier reads at once
        await queue(database, clock, f"slack:C{n}", f"to C{n}", f"many-{n}")
    assert await courier.drain() == 230
    assert all(platform.texts(f"C{n}") == [f"to C{n}"] for n in range(230))


class CrashingChannel(ChannelLog):
    """A sender with a bug for one channel: it raises something no courier knows to expect."""

    async def send(self, channel_id, reply, key):
        if channel_id == "C0BROKEN01":
            self.attempts += 1
            raise KeyError("blocks")
        return await super().send(channel_id, reply, key)


async def test_a_message_that_crashes_its_sender_counts_attempts_then_gives_up_and_tells_the_team(
    database, clock, caplog, tmp_path
):
    from commands.engine.settings import Settings
    from tests.courier_support import team_settings

    settings: Settings = team_settings(tmp_path, team=["slack:C0BROKEN01", "slack:C0TEAM0002"])
    platform = CrashingChannel()
    courier = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)}, settings=settings)
    await queue(database, clock, "slack:C0BROKEN01", "doomed", "k")
    with caplog.at_level("WARNING", logger="tower.courier"):
        for attempt in range(1, MAX_ATTEMPTS + 1):
            await courier.drain()
            async with database.read() as s:
                row = await outbox.by_key(s, "k@slack:C0BROKEN01")
            assert row.attempts == attempt and row.claimed_until is None
            clock.advance(minutes=10)
    assert row.state == "failed" and "KeyError" in row.last_error
    assert platform.attempts == MAX_ATTEMPTS  # bounded: no more tries after giving up
    assert sum("KeyError" in r.getMessage() for r in caplog.records) >= MAX_ATTEMPTS
    await courier.drain()
    told = platform.texts("C0TEAM0002")
    assert len(told) == 1 and "could not deliver a message to slack:C0BROKEN01" in told[0]
