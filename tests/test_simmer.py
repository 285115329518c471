"""A week's simmer driven by a fake clock: health sampled over HTTP, a stall on day 4 pages the
pilot; a healthy week reports once per local day across a restart and a daylight-saving change,
passes, and ships with its announcement."""

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import open_tower
from commands.deploy import simmer_tick
from storage.queries import outbox, pages
from tests.simmer_support import hours, simmering_tower
from tests.support import run

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
async def simmering(tmp_path, db_target, clock):
    async with simmering_tower(tmp_path, db_target, clock) as tower:
        yield tower


async def reports(tower) -> list:
    async with tower.services.db.read() as s:
        return [r for r in await outbox.all_for(s, "console:team") if ":report:" in r.key]


async def test_a_stall_on_day_four_pages_the_pilot_and_fails_the_release(simmering, clock):
    await hours(simmering, clock, 3 * 24)  # days 1 to 3: the verified layer keeps advancing
    assert (await run(simmering, "/release status demo")).text == "demo 1.3.0: simmering"
    await hours(simmering, clock, 5, advancing=False)
    assert (await run(simmering, "/release status demo")).text == "demo 1.3.0: simmering"  # not 6 hours yet
    await hours(simmering, clock, 2, advancing=False)
    assert (await run(simmering, "/release status demo")).text == "demo 1.3.0: failed"
    async with simmering.services.db.read() as s:
        (page,) = await pages.open_pages(s)
        to_pilot = await outbox.all_for(s, "console-dm:bob")
    assert page.source == "health-stalled"
    assert "the metric has not advanced for 6 h 0 min (stuck at 1,720)" in page.message
    assert "Consider `/deploy retire demo@1.3.0`" in page.message and to_pilot
    status = await run(simmering, "/simmer status demo")
    assert status.ok  # a question answered, not a command refused: the shell exits 0
    assert status.text.startswith("Simmer of demo 1.3.0: day 3 of 7 — stopped, trouble: the metric has not advanced")
    health = {f.label: f.value for f in status.fields}["Health"]
    assert "(advancing)" not in health and "(trouble: the metric has not advanced" in health
    assert "simmer ends" not in status.footer and "`/deploy retire demo@1.3.0`" in status.footer


async def test_a_failing_probe_is_trouble_too(simmering, clock):
    simmering.health.down = True
    await hours(simmering, clock, 1)
    async with simmering.services.db.read() as s:
        (page,) = await pages.open_pages(s)
    assert "the health probe is failing (unreadable: HTTP 503)" in page.message


async def test_a_healthy_week_reports_once_a_day_across_a_restart_and_dst_then_ships(
    simmering, clock, settings, db_target
):
    await hours(simmering, clock, 2 * 24)
    for _ in range(3):
        await simmer_tick.tick(simmering.services)  # however often it wakes
    restarted = await open_tower(simmering.settings, db_target.env(), clock=clock)  # Tower restarts on day 3
    restarted.health = simmering.health
    try:
        await hours(restarted, clock, 5 * 24 + 1)
        sent = await reports(restarted)
        days = [r.key.split(":report:")[1].split("@")[0] for r in sent]
        assert days == [
            "2026-10-23",
            "2026-10-24",
            "2026-10-25",
            "2026-10-26",
            "2026-10-27",
            "2026-10-28",
            "2026-10-29",
        ]
        assert {r.created_at.astimezone(BERLIN).hour for r in sent} == {9}  # 09:00 local, summer time or not
        assert [r.created_at.astimezone(UTC).hour for r in sent][1:4] == [7, 8, 8]
        assert "day 1 of 7" in sent[0].payload  # the morning after the deploy day (day 0)
        assert (
            "day 3 of 7" in sent[2].payload and "1,010 → 1,6" in sent[2].payload and "▁" in sent[2].payload
        )  # the trend
        assert (await run(restarted, "/release status demo")).text == "demo 1.3.0: simmering"
        passed = {f.label: f.value for f in (await run(restarted, "/release status demo")).fields}["Simmer"]
        assert passed.startswith("passed")
        shipped = await run(restarted, "/release ship demo")
        assert shipped.ok, shipped.text
        then = {f.label: f.value for f in shipped.fields}["Then"]
        assert then.startswith("announcement #1 to 1 channel; all clear on 2026-10-31")
        await restarted.services.cis.settle()
        assert (simmering.tmp / "data" / "ci" / "demo" / "integrated.txt").read_text() == "integrated\n"
        async with restarted.services.db.read() as s:
            (announcement,) = await outbox.all_for(s, "console:announce")
            all_clear = [r for r in await outbox.all_for(s, "console:team") if "all-clear" in r.key]
        assert "Demo 1.3.0 is out." in announcement.payload
        assert all_clear[0].next_attempt_at == clock.now() + timedelta(days=2)
    finally:
        await restarted.close()
