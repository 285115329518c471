"""/rotation through the dispatcher, on both databases: the rule applied to real releases, the
roster, away days, opting out with a replacement, jump seats, and the crew's permissions."""

from bot.app import open_tower
from storage.queries import audit, outbox
from tests.support import run, snapshot


async def crew_for_next_release(tower, n):
    assert (await run(tower, "/release new demo")).ok
    reply = await run(tower, "/rotation assign demo")
    assert reply.ok, reply.text
    fields = {f.label: f.value for f in reply.fields}
    assert (await run(tower, "/release abort demo --reason 'flew, next one'")).ok
    return fields["Pilot"], fields["Co-pilot"]


async def test_the_proposals_table_through_five_releases(tower):
    crews = [await crew_for_next_release(tower, n) for n in range(5)]
    assert crews == [("bob", "jane"), ("jane", "bob"), ("jane", "tobby"), ("tobby", "jane"), ("tobby", "elvis")]


async def test_a_person_away_today_is_skipped_and_the_reply_says_so(tower):
    await crew_for_next_release(tower, 0)
    await crew_for_next_release(tower, 1)
    assert (await run(tower, "/rotation away 2026-11-01 2026-12-01", as_="tobby")).ok
    await run(tower, "/release new demo")
    reply = await run(tower, "/rotation assign demo")
    assert {f.label: f.value for f in reply.fields}["Co-pilot"] == "elvis"
    assert reply.sections == ["Skipped tobby: away until 2026-12-01."]
    async with tower.services.db.read() as s:
        entry = (await audit.entries(s))[-1]
    assert entry.action == "rotation.assign" and "skipped tobby: away until 2026-12-01" in entry.detail


async def test_the_new_crew_is_announced_to_the_team_with_mentions(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    async with tower.services.db.read() as s:
        (row,) = [r for r in await outbox.all_for(s, "console:team") if "Crew for" in r.payload]
    assert '"mentions": ["bob", "jane"]' in row.payload


async def test_assigning_by_hand_is_recorded_and_a_crewed_release_is_not_reassigned_silently(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    again = await run(tower, "/rotation assign demo")
    assert not again.ok and "already has a crew: pilot bob, co-pilot jane" in again.text
    by_hand = await run(tower, "/rotation assign demo --pilot elvis --copilot <@U0DEMOTOBBY>")
    assert by_hand.ok and {f.label: f.value for f in by_hand.fields}["How"] == "by hand"
    assert "pilot elvis, co-pilot tobby" in (await run(tower, "/release status demo")).fields[3].value
    same = await run(tower, "/rotation assign demo --pilot elvis --copilot elvis")
    assert not same.ok and "cannot be both" in same.text


async def test_only_release_managers_assign(tower):
    await run(tower, "/release new demo")
    before = await snapshot(tower.services.db)
    reply = await run(tower, "/rotation assign demo", as_="bob")
    assert not reply.ok and reply.text.startswith("Only release managers (alice)")
    assert await snapshot(tower.services.db) == before


async def test_the_pilot_may_abort_their_release_but_the_co_pilot_may_not(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    refused = await run(tower, "/release abort demo --reason mine", as_="jane")
    assert not refused.ok and "Only the pilot or release managers" in refused.text
    assert (await run(tower, "/release abort demo --reason 'wrong branch'", as_="bob")).ok


async def test_opting_out_asks_the_next_person_who_accepts(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    out = await run(tower, "/rotation optout demo", as_="jane")
    assert out.ok and out.text == "You stepped out of demo#1. tobby has been asked to take the co-pilot seat."
    async with tower.services.db.read() as s:
        asked = list(await outbox.all_for(s, "console-dm:tobby"))
    assert len(asked) == 1 and "/rotation accept demo#1" in asked[0].payload
    assert "tobby asked to be copilot" in (await run(tower, "/release status demo")).fields[3].value
    strangers = await run(tower, "/rotation accept demo", as_="elvis")
    assert not strangers.ok and "Nobody asked you" in strangers.text
    assert (await run(tower, "/rotation accept demo", as_="tobby")).text == "You are the co-pilot of demo#1."
    assert "pilot bob, co-pilot tobby" in (await run(tower, "/release status demo")).fields[3].value


async def test_declining_asks_the_next_and_nobody_left_is_said_aloud(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    await run(tower, "/rotation optout demo", as_="jane")
    declined = await run(tower, "/rotation decline demo", as_="tobby")
    assert declined.text == "You declined the co-pilot seat of demo#1. Tower asked elvis next."
    last = await run(tower, "/rotation decline demo", as_="elvis")
    assert last.text.endswith("Nobody else is available: the seat is empty.")
    async with tower.services.db.read() as s:
        team = [r.payload for r in await outbox.all_for(s, "console:team")]
    assert any("declined the co-pilot seat of demo#1. Nobody else is available" in p for p in team)


async def test_opting_out_is_only_for_crew(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    reply = await run(tower, "/rotation optout demo", as_="elvis")
    assert not reply.ok and reply.text == "You hold no seat in demo#1."


async def test_jump_seats_ride_along(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    assert (await run(tower, "/rotation jumpseat demo", as_="elvis")).ok
    assert "jump seat: elvis" in (await run(tower, "/release status demo")).fields[3].value
    twice = await run(tower, "/rotation jumpseat demo", as_="elvis")
    assert not twice.ok and "already aboard" in twice.text


async def test_leaving_the_roster_sticks_across_restarts(tower, settings, db_target, clock):
    assert (await run(tower, "/rotation leave", as_="tobby")).ok
    again = await run(tower, "/rotation leave", as_="tobby")
    assert not again.ok and "not on the demo roster" in again.text
    restarted = await open_tower(settings, db_target.env(), clock=clock)
    try:
        roster = (await run(restarted, "/rotation show")).sections[0]
        assert "tobby" not in roster and "1. bob" in roster
        assert (await run(restarted, "/rotation join", as_="tobby")).text == "Tobby joined the demo roster (number 4)."
    finally:
        await restarted.close()


async def test_show_forecasts_the_next_crews(tower):
    reply = await run(tower, "/rotation show demo")
    assert reply.sections[-1].splitlines() == [
        "Next crews if nothing changes:",
        "bob (pilot), jane (co-pilot) — first",
        "jane (pilot), bob (co-pilot) — swap",
        "jane (pilot), tobby (co-pilot) — hand-over",
    ]


async def test_away_days_must_make_sense(tower):
    backwards = await run(tower, "/rotation away 2026-12-02 2026-12-01", as_="bob")
    assert not backwards.ok and "is before" in backwards.text
    garbled = await run(tower, "/rotation away soon later", as_="bob")
    assert not garbled.ok and "is not a date" in garbled.text


async def test_roster_changes_and_time_away_tell_the_team(tower):
    async def told():
        async with tower.services.db.read() as s:
            return [r.payload for r in await outbox.all_for(s, "console:team")]

    assert (await run(tower, "/rotation leave", as_="tobby")).ok
    assert (await run(tower, "/rotation join", as_="tobby")).ok
    assert (await run(tower, "/rotation away 2026-12-20 2027-01-02", as_="bob")).ok
    notes = [p for p in await told() if "roster" in p or "away" in p]
    assert len(notes) == 3, notes
    assert "Tobby left the demo roster." in notes[0] and "Tobby joined the demo roster." in notes[1]
    assert "is away from 2026-12-20 to 2027-01-02; the demo rotation skips them then." in notes[2]
    assert "/rotation show demo" in notes[2]
    refused = await run(tower, "/rotation leave", as_="alice")  # not on the roster: nothing told
    assert not refused.ok and len([p for p in await told() if "roster" in p or "away" in p]) == 3


async def test_show_says_who_acts_while_the_pilot_is_away(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")  # pilot bob, co-pilot jane
    assert (await run(tower, "/rotation away 2026-11-01 2026-12-01", as_="bob")).ok
    crews = (await run(tower, "/rotation show demo")).sections[0]
    assert "pilot bob (away until 2026-12-01; jane acts as pilot), co-pilot jane" in crews
