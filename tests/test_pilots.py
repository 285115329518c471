"""conda's release pilots to the letter, on both databases: the co-pilot acts for an away pilot, one
seat per person, one jump seat, the pilot accountable through the all-clear window, and an
escalation that does not page the same person twice in a row."""

import json
from datetime import UTC, datetime

import pytest

from bot.app import open_tower
from commands.crew.escalation import escalate_due
from storage.queries import audit, outbox
from tests.release_repos import shipped_with_crew
from tests.support import make_settings, run, snapshot


async def crew_of_two(tower):
    """demo#1 flown by bob (pilot) and jane (co-pilot)."""
    assert (await run(tower, "/release new demo")).ok
    assert (await run(tower, "/rotation assign demo")).text == "Crew for demo#1: pilot bob, co-pilot jane."


async def messages(tower, channel: str) -> list[dict]:
    async with tower.services.db.read() as s:
        return [json.loads(r.payload) for r in await outbox.all_for(s, channel)]


def crew_field(reply) -> str:
    return {f.label: f.value for f in reply.fields}["Crew"]


async def test_the_co_pilot_acts_for_the_pilot_while_the_pilot_is_away(tower, clock):
    await crew_of_two(tower)
    refused = await run(tower, "/rc schedule demo rc1 2026-12-01", as_="jane")
    assert not refused.ok and refused.text.startswith("Only the pilot or release managers")
    assert (await run(tower, "/rotation away 2026-11-20 2026-11-22", as_="bob")).ok
    status = await run(tower, "/release status demo", as_="elvis")
    assert crew_field(status) == "pilot bob (away until 2026-11-22; jane acts as pilot), co-pilot jane"
    assert (await run(tower, "/rc schedule demo rc1 2026-12-01", as_="jane")).ok  # what the pilot may do
    paged = await run(tower, "/page demo the explorer is down", as_="tobby")
    assert paged.text == "Page #1 sent to jane (acting pilot of demo#1)."
    (dm,) = await messages(tower, "console-dm:jane")
    assert dm["footer"] == "You are paged as the acting pilot."
    assert await messages(tower, "console-dm:bob") == []  # away: not paged
    clock.advance(days=3)  # bob is back on Monday
    assert crew_field(await run(tower, "/release status demo")) == "pilot bob, co-pilot jane"
    again = await run(tower, "/rc schedule demo rc2 2026-12-08", as_="jane")
    assert not again.ok and again.text.startswith("Only the pilot or release managers")


async def test_a_replacement_who_already_holds_a_seat_is_refused_and_nothing_changes(tower):
    await crew_of_two(tower)
    before = await snapshot(tower.services.db)
    refused = await run(tower, "/rotation optout demo --replacement bob", as_="jane")
    assert not refused.ok
    assert refused.text.startswith("bob is already the pilot of demo#1, and a person holds one seat.")
    assert "--replacement" in refused.text
    assert await snapshot(tower.services.db) == before
    assert crew_field(await run(tower, "/release status demo")) == "pilot bob, co-pilot jane"
    # bob stepping out proposes tobby as pilot; tobby cannot then be proposed for the co-pilot seat too.
    assert (await run(tower, "/rotation optout demo", as_="bob")).ok
    asked_twice = await run(tower, "/rotation optout demo --replacement tobby", as_="jane")
    assert not asked_twice.ok and asked_twice.text.startswith("tobby has been asked to be the pilot of demo#1")


async def test_assigning_one_seat_by_hand_keeps_the_other_and_refuses_a_double(tower):
    await crew_of_two(tower)
    both = await run(tower, "/rotation assign demo --copilot bob")
    assert not both.ok and both.text.startswith("bob is the pilot of demo#1, and a person holds one seat.")
    changed = await run(tower, "/rotation assign demo --copilot tobby")
    assert changed.ok and changed.text == "Crew for demo#1: pilot bob, co-pilot tobby."


async def test_taking_a_crew_seat_ends_the_jump_seat(tower):
    await crew_of_two(tower)
    assert (await run(tower, "/rotation jumpseat demo", as_="elvis")).ok
    assert (await run(tower, "/rotation optout demo --replacement elvis", as_="jane")).ok
    assert (await run(tower, "/rotation accept demo", as_="elvis")).text == "You are the co-pilot of demo#1."
    assert crew_field(await run(tower, "/release status demo")) == "pilot bob, co-pilot elvis"
    assert (await run(tower, "/rotation jumpseat demo", as_="tobby")).ok  # the jump seat is free again


async def test_one_jump_seat_by_default_and_the_refusal_names_who_holds_it(tower):
    await crew_of_two(tower)
    assert (await run(tower, "/rotation jumpseat demo", as_="elvis")).ok
    team = [m["text"] for m in await messages(tower, "console:team")]
    assert "Elvis is riding along in the jump seat of demo#1." in team
    before = await snapshot(tower.services.db)
    second = await run(tower, "/rotation jumpseat demo", as_="tobby")
    assert not second.ok and second.text.startswith("demo#1 has 1 jump seat: taken by elvis.")
    assert await snapshot(tower.services.db) == before


async def test_jump_seats_is_a_project_setting(tmp_path, db_target, clock):
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"]["demo"]["jump_seats"] = 2
    tower = await open_tower(type(make_settings(tmp_path / "x")).model_validate(data), db_target.env(), clock=clock)
    try:
        await crew_of_two(tower)
        assert (await run(tower, "/rotation jumpseat demo", as_="elvis")).ok
        assert (await run(tower, "/rotation jumpseat demo", as_="tobby")).ok
        third = await run(tower, "/rotation jumpseat demo", as_="alice")
        assert not third.ok and third.text.startswith("demo#1 has 2 jump seats: taken by elvis, tobby.")
    finally:
        await tower.close()


async def test_escalation_skips_a_step_that_reaches_someone_already_paged_and_says_so(tower, clock):
    for _ in range(2):  # demo#1 (bob, jane) aborted; demo#2 (jane, bob): bob is co-pilot and previous pilot
        await run(tower, "/release new demo")
        await run(tower, "/rotation assign demo")
        if _ == 0:
            await run(tower, "/release abort demo --reason next")
    paged = await run(tower, "/page demo disk full", as_="tobby")
    assert paged.footer == "Unacknowledged, it goes to the co-pilot in 15 minutes."
    clock.advance(minutes=15)
    assert await escalate_due(tower.services) == 1  # the co-pilot, bob
    clock.advance(minutes=15)
    assert await escalate_due(tower.services) == 1  # the previous pilot is bob again: on to alice
    assert len(await messages(tower, "console-dm:bob")) == 1
    (alice,) = await messages(tower, "console-dm:alice")
    assert alice["footer"] == "You are paged as a release manager."
    team = [m["text"] for m in await messages(tower, "console:team") if m["text"].startswith("Page #1")]
    assert team[-1] == (
        "Page #1 for demo#2: disk full — paging the release managers: alice "
        "(skipped step 3: the previous release's pilot, bob, was paged already)."
    )
    async with tower.services.db.read() as s:
        history = [e.detail for e in await audit.entries(s) if e.action == "page.step"]
    assert history == [
        "page #1 step 1: the pilot, jane",
        "page #1 step 2: the co-pilot, bob",
        "page #1 step 4: the release managers, alice "
        "(skipped step 3: the previous release's pilot, bob, was paged already)",
    ]


@pytest.fixture
async def shipped(tmp_path, db_target, clock):
    """demo 1.3.0 flown by bob and jane, shipped on Monday 2026-11-23 at 10:00 UTC."""
    tower = await shipped_with_crew(tmp_path, db_target, clock)
    yield tower
    await tower.close()


async def test_in_the_all_clear_window_a_page_reaches_the_crew_of_the_release_just_shipped(shipped, clock):
    clock.set(datetime(2026, 11, 24, 22, tzinfo=UTC))  # a day and a half later: within the two days
    reply = await run(shipped, "/page demo the node crashes since the upgrade", as_="tobby")
    assert reply.ok and reply.text == "Page #1 sent to bob (pilot of demo 1.3.0)."
    assert len(await messages(shipped, "console-dm:bob")) == 1


async def test_after_the_all_clear_window_a_page_says_so_and_whom_it_would_reach(shipped, clock):
    clock.set(datetime(2026, 11, 25, 11, tzinfo=UTC))
    before = await snapshot(shipped.services.db)
    reply = await run(shipped, "/page demo is it still fine?", as_="tobby")
    assert not reply.ok
    assert reply.text.startswith(
        "demo has no open release, and demo 1.3.0 has been all clear since 2026-11-25 10:00 UTC: "
        "its crew is off duty, so nobody was paged."
    )
    assert "`/page demo@1.3.0 MESSAGE` would page its pilot bob first" in reply.text
    assert await snapshot(shipped.services.db) == before
