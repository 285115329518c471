"""/announce after a ship: a bare PROJECT means the release just shipped while its all-clear window
lasts; past it, Tower says which release was meant instead of refusing permission."""

from datetime import UTC, datetime

import pytest

from tests.release_repos import shipped_with_crew
from tests.support import run, snapshot


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
