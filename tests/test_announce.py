"""/announce after a ship: a bare PROJECT means the release just shipped while its all-clear window
lasts; past it, Tower says which release was meant instead of refusing permission."""

import asyncio
import io
import json
from datetime import UTC, datetime

import pytest

from bot.app import open_tower
from bot.pages.site import feed_xml
from bot.platforms.console import Console
from storage.queries import outbox
from tests.release_repos import CHANGELOG, released_then, shipped_with_crew
from tests.support import run, snapshot


async def posts(tower, channel: str) -> list[dict]:
    async with tower.services.db.read() as s:
        return [json.loads(r.payload) for r in await outbox.all_for(s, channel)]


@pytest.fixture
async def shipped(tmp_path, db_target, clock):
    tower = await shipped_with_crew(tmp_path, db_target, clock, all_clear_days=2)
    yield tower
    await tower.close()


async def test_the_pilot_announces_the_release_just_shipped_by_its_project(shipped, clock):
    clock.set(datetime(2026, 11, 24, 9, tzinfo=UTC))
    reply = await run(shipped, "/announce demo --to console:blog", as_="bob")
    assert reply.ok and reply.text == "Announcement #2 goes to 1 channel now."
    status = await run(shipped, "/release status demo", as_="elvis")
    assert status.ok and status.text == "demo 1.3.0: released"


async def test_past_the_all_clear_window_a_bare_project_asks_which_release_was_meant(shipped, clock):
    clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))
    before = await snapshot(shipped.services.db)
    for person in ("bob", "elvis"):  # the pilot, and someone who may not announce at all
        reply = await run(shipped, "/announce demo --to console:blog", as_=person)
        assert not reply.ok and reply.text.startswith("demo has no open release; did you mean demo@1.3.0?"), person
    assert await snapshot(shipped.services.db) == before
    assert (await run(shipped, "/announce demo@1.3.0 --to console:blog", as_="bob")).ok


async def test_an_open_release_is_still_what_a_bare_project_means(shipped, clock):
    clock.set(datetime(2026, 11, 24, 9, tzinfo=UTC))
    assert (await run(shipped, "/release new demo")).ok
    assert (await run(shipped, "/release status demo")).text == "demo#2: planning"
    refused = await run(shipped, "/announce demo --to console:blog", as_="bob")
    assert not refused.ok and refused.text.startswith("Only the pilot or release managers")


BREAKING = CHANGELOG.replace(
    "### Added\n\n- Pausing block production.", "### Changed\n\n- **BREAKING**: drops the v1 API.", 1
)


@pytest.fixture
async def breaking(tmp_path, db_target, clock):
    tower = await shipped_with_crew(
        tmp_path,
        db_target,
        clock,
        commits=released_then(BREAKING),
        channels={"team": ["console:team"], "announce": ["console:news", "slack:C0NEWS"]},
        announce_webhooks=["https://example.org/hook"],
    )
    yield tower
    await tower.close()


async def test_the_first_item_keeps_its_markdown_on_chat_and_webhooks(breaking):
    for channel in ("console:news", "slack:C0NEWS", "announce-webhook:demo:0"):
        (post,) = await posts(breaking, channel)
        assert "is out. **BREAKING**: drops the v1 API." in post["text"], channel


async def test_a_correction_reaches_the_feed_too(breaking):
    reply = await run(
        breaking, '/announce demo --correct "demo 1.3.0 is out: **BREAKING**, the v1 API is gone."', as_="bob"
    )
    assert reply.ok
    feed = await feed_xml(breaking.services)
    assert "the v1 API is gone." in feed and "drops the v1 API" not in feed


async def test_the_shell_says_which_posts_wait_for_tower_run(breaking, db_target):
    """A shell posts to console channels itself; what goes to Slack or a webhook waits for `tower run`."""
    out, err = io.StringIO(), io.StringIO()
    breaking.services.clock.advance(minutes=5)  # not the ship's own announcement a second time

    def in_a_shell():
        loop = asyncio.new_event_loop()
        try:
            tower = loop.run_until_complete(
                open_tower(breaking.settings, db_target.env(), clock=breaking.services.clock)
            )
            shell = Console(tower, "bob", loop, out=out, err=err)
            assert shell.execute("/announce demo@2.0.0"), err.getvalue()
            assert shell.execute("/release status demo@2.0.0")
            loop.run_until_complete(tower.close())
        finally:
            loop.close()

    await asyncio.to_thread(in_a_shell)
    lines = out.getvalue().splitlines()
    assert "(2 posts wait for `tower run` to deliver: slack:C0NEWS, announce-webhook:demo:0)" in lines
    assert sum("wait for `tower run`" in line for line in lines) == 1  # said once, for the command that queued them


async def test_the_same_announcement_twice_within_seconds_is_posted_once(shipped, clock):
    clock.set(datetime(2026, 11, 24, 9, tzinfo=UTC))
    assert (await run(shipped, "/announce demo --to console:blog", as_="bob")).ok
    clock.advance(seconds=5)
    before = await snapshot(shipped.services.db)
    twice = await run(shipped, "/announce demo --to console:blog,console:news", as_="alice")
    assert not twice.ok and twice.text.startswith(
        "Announcement #2 of 1.3.0 went to console:blog 5s ago, so this looks like the same request twice"
    )
    assert "add --again" in twice.text and await snapshot(shipped.services.db) == before
    assert (await run(shipped, "/announce demo --to console:news", as_="bob")).ok  # other channels: not a twin
    assert (await run(shipped, "/announce demo --to console:blog --again", as_="bob")).ok
    assert len(await posts(shipped, "console:blog")) == 2


async def test_ten_announcements_in_parallel_from_five_towers_post_once(shipped, clock, db_target):
    clock.set(datetime(2026, 11, 24, 9, tzinfo=UTC))
    towers = [await open_tower(shipped.settings, db_target.env(), clock=clock) for _ in range(4)]
    try:
        replies = await asyncio.gather(
            *(run(t, "/announce demo@1.3.0 --to console:blog", as_="bob") for t in [shipped, *towers] * 2)
        )
    finally:
        for t in towers:
            await t.close()
    assert sum(r.ok for r in replies) == 1, [r.text for r in replies]
    assert all("the same request twice" in r.text for r in replies if not r.ok)
    assert len(await posts(shipped, "console:blog")) == 1
