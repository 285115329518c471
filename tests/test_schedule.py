"""/rc schedule and the reminders it brings: on the right local day, once, across a DST change."""

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import open_tower
from commands.engine.settings import Settings
from commands.scope.reminders import send_due_reminders
from storage.queries import outbox
from tests.support import make_settings, run


@pytest.fixture
async def berlin(tmp_path, db_target, clock):
    """The demo project in Berlin, whose clocks go back on Sunday 2026-10-25."""
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"]["demo"].update({"timezone": "Europe/Berlin", "reminder_time": "09:00"})
    clock.set(datetime(2026, 10, 20, 12, tzinfo=UTC))
    tower = await open_tower(Settings.model_validate(data), db_target.env(), clock=clock)
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    yield tower
    await tower.close()


async def team_posts(tower) -> list[str]:
    async with tower.services.db.read() as s:
        return [r.payload for r in await outbox.all_for(s, "console:team")]


async def reminders(tower, text) -> int:
    return sum(text in p for p in await team_posts(tower))


async def test_scheduling_shows_a_countdown(berlin, clock):
    reply = await run(berlin, "/rc schedule demo rc1 2026-10-26")
    assert reply.text == "Planned rc1 of demo#1 for 2026-10-26." and reply.footer == "Countdown: rc1 in 6 days."
    await run(berlin, "/rc schedule demo final 2026-11-13")
    status = {f.label: f.value for f in (await run(berlin, "/release status demo")).fields}
    assert status["Countdown"] == "rc1 in 6 days, final in 24 days"
    moved = await run(berlin, "/rc schedule demo rc1 2026-10-27")
    assert moved.text == "Planned rc1 of demo#1 for 2026-10-27 (moved from 2026-10-26)."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("/rc schedule demo rc0 2026-12-01", "`rc0` is not a milestone."),
        ("/rc schedule demo beta 2026-12-01", "`beta` is not a milestone."),
        ("/rc schedule demo rc1 2026-10-01", "2026-10-01 is in the past"),
        ("/rc schedule demo rc1 tomorrow", "is not a date"),
    ],
)
async def test_bad_milestones_are_refused(berlin, text, message):
    reply = await run(berlin, text)
    assert not reply.ok and message in reply.text


async def test_the_reminder_comes_at_nine_local_the_day_before_across_the_dst_change(berlin, clock):
    await run(berlin, "/rc schedule demo rc1 2026-10-26")  # the day before is the 25th, when Berlin leaves summer time
    clock.set(datetime(2026, 10, 25, 7, 59, tzinfo=UTC))  # 08:59 CET: not yet (07:00 UTC would be 09:00 CEST)
    await send_due_reminders(berlin.services)
    assert await reminders(berlin, "Tomorrow: rc1") == 0
    clock.set(datetime(2026, 10, 25, 8, 0, tzinfo=UTC))  # 09:00 CET
    assert await send_due_reminders(berlin.services) >= 1
    for minutes in (1, 60, 600):  # however often the scheduler wakes
        clock.set(datetime(2026, 10, 25, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes))
        await send_due_reminders(berlin.services)
    assert await reminders(berlin, "Tomorrow: rc1 of demo#1 is due (Monday 2026-10-26).") == 1


async def test_the_crew_is_reminded_before_the_first_milestone_only(berlin, clock):
    await run(berlin, "/rc schedule demo final 2026-11-13")
    await run(berlin, "/rc schedule demo rc1 2026-10-26")
    clock.set(datetime(2026, 10, 25, 9, tzinfo=UTC))
    await send_due_reminders(berlin.services)
    clock.set(datetime(2026, 11, 12, 9, tzinfo=UTC))
    await send_due_reminders(berlin.services)
    async with berlin.services.db.read() as s:
        to_bob = [r.payload for r in await outbox.all_for(s, "console-dm:bob")]
    assert len(to_bob) == 1 and "You are the pilot of demo#1; its first milestone, rc1, is due tomorrow" in to_bob[0]
    assert await reminders(berlin, "Tomorrow: final") == 1


async def test_a_milestone_passed_without_its_candidate_is_called_out_once(berlin, clock):
    await run(berlin, "/rc schedule demo rc1 2026-10-26")
    clock.set(datetime(2026, 10, 27, 7, 59, tzinfo=UTC))  # 08:59 local the day after
    await send_due_reminders(berlin.services)
    assert await reminders(berlin, "has no candidate yet") == 0
    clock.set(datetime(2026, 10, 27, 8, 0, tzinfo=UTC))
    await send_due_reminders(berlin.services)
    await send_due_reminders(berlin.services)
    assert await reminders(berlin, "rc1 of demo#1 was due Monday 2026-10-26 and has no candidate yet.") == 1


async def test_a_reminder_missed_while_tower_was_down_is_not_sent_late(berlin, clock):
    await run(berlin, "/rc schedule demo rc1 2026-10-26")
    clock.set(datetime(2026, 10, 26, 10, tzinfo=UTC))  # the milestone day itself: "tomorrow" is no longer true
    await send_due_reminders(berlin.services)
    assert await reminders(berlin, "Tomorrow: rc1") == 0


async def test_a_milestone_that_passed_without_its_candidate_shows_as_late_until_planned_again(berlin, clock):
    await run(berlin, "/rc schedule demo rc1 2026-10-26")
    await run(berlin, "/rc schedule demo rc2 2026-11-09")
    clock.set(datetime(2026, 10, 29, 12, tzinfo=UTC))
    status = {f.label: f.value for f in (await run(berlin, "/release status demo")).fields}
    assert status["Countdown"] == "rc1: 3 days late, rc2 in 11 days"
    clock.set(datetime(2026, 10, 27, 12, tzinfo=UTC))
    status = {f.label: f.value for f in (await run(berlin, "/release status demo")).fields}
    assert status["Countdown"] == "rc1: 1 day late, rc2 in 13 days"
    moved = await run(berlin, "/rc schedule demo rc1 2026-10-30")
    assert moved.footer == "Countdown: rc1 in 3 days, rc2 in 13 days."
