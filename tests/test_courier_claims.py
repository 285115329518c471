"""Claims on the outbox: leased on real time (never Tower's rehearsal clock), confirmed right before
a post, owned by a database session on PostgreSQL; pages before routine notices and in order; an
acknowledged page's history says what really went out."""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.courier import Courier, Pace, Transient, wall_now
from commands.engine.reply import Reply
from storage.held_connection import held_connection, held_engine
from storage.queries import outbox, pages
from storage.tables import OutboundMessage
from tests.test_courier import ChannelLog, queue


@pytest.fixture
def pair(database, clock) -> tuple[ChannelLog, Courier]:
    platform = ChannelLog()
    return platform, Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)})


async def claim_elsewhere(database, clock, key: str) -> int:
    """Another courier's claim, taken just now."""
    async with database.write() as s:
        row = await outbox.by_key(s, key)
        assert await outbox.claim(s, row.id, clock.now(), wall_now())
    return row.id


async def test_a_claim_outlives_any_amount_of_rehearsal_time(database, clock, pair):
    platform, courier = pair
    await queue(database, clock, "slack:C1", "once", "k")
    await claim_elsewhere(database, clock, "k@slack:C1")  # another replica, waiting for its pacing
    clock.advance(hours=6)  # a fast rehearsal clock: hours of Tower's time in a blink
    assert await courier.drain() == 0
    assert platform.texts("C1") == []


async def test_a_retry_waits_real_seconds_on_a_fast_rehearsal_clock(database):
    from bot.integrations.clock import RehearsalClock

    clock = RehearsalClock(datetime(2026, 11, 2, tzinfo=UTC), time.time(), 3600)  # an hour a second
    platform = ChannelLog()
    platform.script = [RuntimeError("a surprise")] * 2  # one attempt, then retried later
    courier = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.0)})
    await queue(database, clock, "slack:C1", "later", "k")
    async with database.write() as s:  # it failed a few times before: the next wait is up to 32 s
        await s.exec(update(OutboundMessage).values(attempts=5))
    await courier.drain()
    await asyncio.sleep(0.05)
    assert await courier.drain() == 0  # not retried a blink later (Tower's clock moved minutes)
    assert platform.attempts == 1 and platform.texts("C1") == []


async def test_the_channels_pacing_holds_for_every_courier(database, clock):
    platform = ChannelLog()
    first, second = (
        Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.4)}, poll_s=0.02) for _ in range(2)
    )
    await queue(database, clock, "slack:C1", "from the first replica", "k1")
    assert await first.drain() == 1
    await queue(database, clock, "slack:C1", "from the second", "k2")
    second.start()
    try:
        async with asyncio.timeout(5):
            while len(platform.texts("C1")) < 2:
                await asyncio.sleep(0.01)
    finally:
        await second.stop()
    (_, _, one), (_, _, two) = platform.posted["C1"]
    assert two - one >= 0.39  # Slack's one message a second per channel holds across replicas


async def test_a_sender_whose_claim_was_taken_over_while_it_waited_does_not_post(database, clock):
    platform = ChannelLog()
    slow = Courier(database, clock, {"slack": platform}, pace={"slack": Pace(0.5)})
    await queue(database, clock, "slack:C1", "first", "k1")
    await queue(database, clock, "slack:C1", "second", "k2")
    draining = asyncio.create_task(slow.drain())
    async with asyncio.timeout(5):
        while True:  # the second is claimed; the courier waits out the channel's pacing
            async with database.read() as s:
                row = await outbox.by_key(s, "k2@slack:C1")
            if row.claim_token:
                break
            await asyncio.sleep(0.01)
    async with database.write() as s:  # meanwhile another replica took the claim over
        await s.exec(update(OutboundMessage).where(col(OutboundMessage.id) == row.id).values(claim_token="theirs"))
    assert await draining == 1
    assert platform.texts("C1") == ["first"]


async def test_pages_go_before_routine_notices_and_page_steps_stay_in_order(database, clock, pair):
    platform, courier = pair
    for i in range(3):
        await queue(database, clock, "slack:C1", f"notice {i}", f"notice:{i}")
    await queue(database, clock, "slack:C1", "page step 1", "page:1:step:0:team")
    await queue(database, clock, "slack:C1", "page step 2", "page:1:step:1:team")
    await queue(database, clock, "slack:C1", "notice 3", "notice:3")
    assert await courier.drain() == 6
    assert platform.texts("C1") == ["page step 1", "page step 2", "notice 0", "notice 1", "notice 2", "notice 3"]


async def test_a_page_step_waits_while_an_earlier_one_is_unsent(database, clock, pair):
    platform, courier = pair
    platform.script = [Transient("503")] * 4  # the first step fails four times: retried later
    await queue(database, clock, "slack:C1", "step 1", "page:1:step:0:team")
    await queue(database, clock, "slack:C1", "step 2", "page:1:step:1:team")
    await queue(database, clock, "slack:C1", "routine", "notice:1")
    await courier.drain()
    assert platform.texts("C1") == ["routine"]  # routine notices go on; the page's next step waits
    clock.advance(minutes=10)
    await courier.drain()
    assert platform.texts("C1") == ["routine", "step 1", "step 2"]


async def test_nothing_in_a_channel_goes_while_another_courier_holds_a_claim_there(database, clock, pair):
    platform, courier = pair
    await queue(database, clock, "slack:C1", "step 1", "page:1:step:0:team")
    await queue(database, clock, "slack:C1", "step 2", "page:1:step:1:team")
    await queue(database, clock, "slack:C2", "elsewhere", "notice:1")
    await claim_elsewhere(database, clock, "page:1:step:0:team@slack:C1")
    assert await courier.drain() == 1
    assert platform.texts("C1") == [] and platform.texts("C2") == ["elsewhere"]


async def test_an_acknowledgement_records_what_really_went_out(database, clock, pair):
    platform, courier = pair
    await queue(database, clock, "slack:C1", "posted, then the sender died", "page:1:step:0:team")
    await queue(database, clock, "slack:C1", "claimed, never posted", "page:1:step:1:team")
    await queue(database, clock, "slack:C1", "never claimed", "page:1:step:2:team")
    for key in ("page:1:step:0:team@slack:C1", "page:1:step:1:team@slack:C1"):
        async with database.write() as s:  # claims of a sender whose lease then ran out
            row = await outbox.by_key(s, key)
            await s.exec(
                update(OutboundMessage)
                .where(col(OutboundMessage.id) == row.id)
                .values(claimed_until=wall_now() - timedelta(seconds=1), claim_token="dead")
            )
    await platform.send("C1", Reply(text="posted, then the sender died"), "page:1:step:0:team@slack:C1")
    async with database.write() as s:
        assert await pages.cancel_undelivered(s, 1) == 3
    await courier.drain()
    assert platform.texts("C1") == ["posted, then the sender died"]  # nothing posted after the ack
    async with database.read() as s:
        states = [(await outbox.by_key(s, f"page:1:step:{n}:team@slack:C1")).state for n in range(3)]
    assert states == ["sent", "cancelled", "cancelled"]


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_a_claim_is_free_as_soon_as_its_owners_session_ends(db_target, database, clock, pair):
    platform, courier = pair
    await queue(database, clock, "slack:C1", "posted by a replica that then died", "k1")
    await queue(database, clock, "slack:C1", "next", "k2")
    engine = held_engine(database, 1.0)
    conn = await held_connection(engine, 1.0)
    async with AsyncSession(bind=conn) as s:  # the dying replica's claim, owned by its own session
        row = await outbox.by_key(s, "k1@slack:C1")
        assert await outbox.claim(s, row.id, clock.now(), wall_now())
        await s.commit()
    await platform.send("C1", Reply(text="posted by a replica that then died"), "k1@slack:C1")
    assert await courier.drain() == 0  # its owner lives: the channel is its
    await conn.close()  # the replica is killed: PostgreSQL ends its session
    await engine.dispose()
    async with asyncio.timeout(5):
        while not await courier.drain():  # at once, not two minutes later
            await asyncio.sleep(0.05)
    assert platform.texts("C1") == ["posted by a replica that then died", "next"]
