"""/page and /ack with a fake clock: every escalation step, exactly once; acknowledgement stops it."""

import asyncio

import pytest

from bot.app import open_tower
from bot.courier import Courier
from commands.crew.escalation import escalate_due
from commands.engine.settings import Settings
from storage.queries import outbox
from tests.support import run


class Printed:
    """A console-like sender that remembers what it delivered, per channel."""

    def __init__(self):
        self.got: list[tuple[str, str]] = []

    async def send(self, channel_id, reply, key):
        self.got.append((channel_id, reply.text))

    async def find(self, channel_id, key, since):
        return None


@pytest.fixture
async def flying(tower):
    """demo#2 flown by jane (pilot) and bob (co-pilot); demo#1 before it was piloted by bob."""
    for _ in range(2):
        await run(tower, "/release new demo")
        await run(tower, "/rotation assign demo")
        if _ == 0:
            await run(tower, "/release abort demo --reason next")
    await run(tower, "/rotation jumpseat demo", as_="elvis")
    printed = Printed()
    tower.courier = Courier(tower.services.db, tower.services.clock, {"console": printed, "console-dm": printed})
    tower.printed = printed
    return tower


async def deliveries(tower) -> list[tuple[str, str]]:
    await tower.courier.drain()
    got, tower.printed.got = tower.printed.got, []
    return got


async def test_every_step_reaches_the_next_in_the_chain_once(flying, clock):
    reply = await run(flying, "/page demo the explorer is down", as_="tobby")
    assert reply.text == "Page #1 sent to jane (pilot of demo#2)."
    assert reply.footer == "Unacknowledged, it goes to the co-pilot in 15 minutes."
    first = await deliveries(flying)
    assert ("jane", "Page #1 for demo#2: the explorer is down") in first
    assert ("team", "Page #1 for demo#2: the explorer is down — paging the pilot: jane.") in first
    assert ("elvis", "FYI: page #1 for demo#2: the explorer is down") in first
    assert await escalate_due(flying.services) == 0  # not yet
    # bob, the co-pilot, is also the previous release's pilot: that step is skipped, not a second page.
    expected = [
        ("bob", "co-pilot"),
        ("alice", "release managers"),
        ("jane", "pilot"),
        ("bob", "co-pilot"),
    ]
    for who, role in expected:
        clock.advance(minutes=15)
        assert await escalate_due(flying.services) == 1
        assert await escalate_due(flying.services) == 0  # each step once, however often the scheduler wakes
        got = await deliveries(flying)
        assert (who, "Page #1 for demo#2: the explorer is down") in got
        assert any(channel == "team" and f"paging the {role}: {who}" in text for channel, text in got)


async def test_acknowledging_stops_the_escalation_at_once(flying, clock):
    await run(flying, "/page demo disk full", as_="tobby")
    await deliveries(flying)
    acked = await run(flying, "/ack 1", as_="jane")
    assert acked.text == "Acknowledged page #1 for demo#2; it stops escalating."
    clock.advance(hours=2)
    assert await escalate_due(flying.services) == 0
    got = await deliveries(flying)
    assert got == [("team", "Jane acknowledged page #1 for demo#2.")] or got == []
    twice = await run(flying, "/ack 1", as_="jane")
    assert not twice.ok and twice.text == "Page #1 is already acknowledged."


async def test_an_ack_racing_a_step_drops_what_the_step_had_not_yet_sent(flying, clock):
    await run(flying, "/page demo disk full", as_="tobby")
    await deliveries(flying)
    clock.advance(minutes=15)
    assert await escalate_due(flying.services) == 1  # step 2 queued for bob ...
    assert (await run(flying, "/ack 1", as_="jane")).ok  # ... and acknowledged before it went out
    got = await deliveries(flying)
    assert not any(channel == "bob" for channel, _ in got)
    async with flying.services.db.read() as s:
        states = {r.key: r.state for r in await outbox.all_for(s, "console-dm:bob")}
    assert set(states.values()) == {"cancelled"}


async def test_an_ack_and_a_due_step_at_once_leave_the_page_acknowledged(flying, clock):
    await run(flying, "/page demo disk full", as_="tobby")
    clock.advance(minutes=15)
    results = await asyncio.gather(run(flying, "/ack 1", as_="jane"), escalate_due(flying.services))
    assert results[0].ok
    clock.advance(hours=1)
    assert await escalate_due(flying.services) == 0
    assert "Open pages" not in {f.label for f in (await run(flying, "/release status demo")).fields}


async def test_only_the_people_paged_or_release_managers_acknowledge(flying, clock):
    await run(flying, "/page demo disk full", as_="tobby")
    refused = await run(flying, "/ack 1", as_="bob")
    assert not refused.ok and "Only the people paged so far (jane) or release managers" in refused.text
    clock.advance(minutes=15)
    await escalate_due(flying.services)
    assert (await run(flying, "/ack 1", as_="bob")).ok  # bob has been paged now


async def test_a_page_number_that_does_not_exist(flying):
    reply = await run(flying, "/ack 99")
    assert not reply.ok and reply.text.startswith("There is no page #99.")
    bad = await run(flying, "/ack ninety")
    assert not bad.ok and "is not a whole number" in bad.text


async def test_open_pages_show_in_the_status(flying):
    await run(flying, "/page demo disk full", as_="tobby")
    fields = {f.label: f.value for f in (await run(flying, "/release status demo")).fields}
    assert fields["Open pages"] == "#1 disk full"


async def test_empty_seats_are_passed_over_without_waiting(tower, clock):
    await run(tower, "/release new demo")
    reply = await run(tower, "/page demo help")
    assert reply.text == "Page #1 for demo#1: nobody holds the pilot seat."
    assert reply.footer == "It goes on to the co-pilot right away."
    for _ in range(3):  # co-pilot, previous pilot: empty too; then the release managers, with no clock moving
        assert await escalate_due(tower.services) == 1
    async with tower.services.db.read() as s:
        assert len(await outbox.all_for(s, "console-dm:alice")) == 1
    assert await escalate_due(tower.services) == 0  # alice was reached: now it waits


async def test_a_page_of_a_project_that_left_the_config_can_still_be_acknowledged(flying, clock, db_target):
    """demo is taken out of tower.toml while its page is open: the page no longer escalates, and
    acknowledging it is still the way to close it."""
    await run(flying, "/page demo the explorer is down", as_="tobby")
    await deliveries(flying)
    data = flying.settings.model_dump()
    data["projects"] = {"other": {**data["projects"].pop("demo"), "key": "other"}}
    without_demo = Settings.model_validate(data)
    later = await open_tower(without_demo, db_target.env(), clock=clock)
    try:
        clock.advance(minutes=20)
        assert await escalate_due(later.services) == 0  # nobody to escalate to without its config
        reply = await run(later, "/ack 1", as_="jane")
        assert reply.ok, reply.text
        assert reply.text == "Acknowledged page #1 for demo#2; it stops escalating."
        assert (await run(later, "/ack 1", as_="jane")).text == "Page #1 is already acknowledged."
        async with later.services.db.read() as session:
            team = [m.payload for m in await outbox.all_for(session, "console:team")]
            assert all("acknowledged page #1" not in p for p in team), team
    finally:
        await later.close()
