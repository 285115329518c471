"""conda's release pilots, walked through five releases on both databases: who may act and who is
paged at each step, with an away pilot, an opt-out, a jump seat and pages after a release."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from commands.crew.escalation import escalate_due
from storage.queries import outbox
from tests.release_repos import repo_settings
from tests.support import run

MONDAY = datetime(2026, 11, 23, 9, tzinfo=UTC)


@pytest.fixture
async def conda(tmp_path, db_target, clock):
    """The demo team flying a library the conda way: no deploys, no releases on Fridays."""
    settings, _ = repo_settings(tmp_path, checklist=[], ci=None, blackout_weekdays=["friday"])
    clock.set(MONDAY)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo = tmp_path / "repo.git"
    yield tower
    await tower.close()


async def ok(tower, text, as_="alice"):
    reply = await run(tower, text, as_=as_)
    assert reply.ok, f"{text} as {as_}: {reply.text}"
    return reply


async def refused(tower, text, as_):
    reply = await run(tower, text, as_=as_)
    assert not reply.ok, f"{text} as {as_} was not refused"
    return reply.text


async def open_release(tower, number: int, crew: str) -> None:
    """Open the next release with its crew by the rotation rule, named from a fresh changelog entry,
    frozen, and with a candidate cut."""
    if number > 1:  # the release branch carries the last release's changelog: add what changed since
        forge = LocalGitForge(tower.repo)
        head = await forge.head("release")
        text = await forge.read_file("CHANGELOG.md", head.sha)
        text = text.replace("## [Unreleased]\n", f"## [Unreleased]\n\n### Fixed\n\n- Fix number {number}.\n", 1)
        await forge.commit_files("release", f"fix: number {number}", {"CHANGELOG.md": text}, parent_sha=head.sha)
    await ok(tower, "/release new demo")
    assert (await ok(tower, "/rotation assign demo")).text.endswith(f": {crew}.")
    for text in ("/release name demo --yes", "/scope freeze demo", "/rc cut demo"):
        await ok(tower, text)


async def dms(tower, handle: str) -> list[str]:
    async with tower.services.db.read() as s:
        return [json.loads(r.payload)["text"] for r in await outbox.all_for(s, f"console-dm:{handle}")]


async def paged_since(tower, before: dict[str, int]) -> dict[str, int]:
    """Who got a page by direct message since `before` (counts per person)."""
    now = {h: len([t for t in await dms(tower, h) if t.startswith("Page #")]) for h in before}
    return {h: now[h] - before[h] for h in before if now[h] != before[h]}


async def page_counts(tower) -> dict[str, int]:
    return {h: len([t for t in await dms(tower, h) if t.startswith("Page #")]) for h in tower.settings.people}


async def team_says(tower, start: str) -> str:
    async with tower.services.db.read() as s:
        texts = [json.loads(r.payload)["text"] for r in await outbox.all_for(s, "console:team")]
    return [t for t in texts if t.startswith(start)][-1]


def crew_of(reply) -> str:
    return {f.label: f.value for f in reply.fields}["Crew"]


async def test_five_conda_releases(conda, clock):
    tower = conda

    # Release 1: Bob pilots, Jane co-pilots. Only the pilot (or a release manager) ships.
    await open_release(tower, 1, "pilot bob, co-pilot jane")
    assert (await refused(tower, "/release ship demo", "jane")).startswith("Only the pilot or release managers")
    clock.set(MONDAY + timedelta(days=1, hours=1))  # Tuesday 10:00
    await ok(tower, "/release ship demo", as_="bob")
    # Wednesday: something breaks. No release is open, but the all-clear window is: Bob is paged.
    clock.set(MONDAY + timedelta(days=2, hours=3))
    before = await page_counts(tower)
    assert (
        await ok(tower, "/page demo installs fail", as_="tobby")
    ).text == "Page #1 sent to bob (pilot of demo 1.3.0)."
    assert await paged_since(tower, before) == {"bob": 1}
    await ok(tower, "/ack 1", as_="bob")
    # Friday: the window (two days from Tuesday 10:00) is over.
    clock.set(MONDAY + timedelta(days=4))
    text = await refused(tower, "/page demo is it fine?", "tobby")
    assert "demo 1.3.0 has been all clear since 2026-11-26 10:00 UTC" in text and "its pilot bob first" in text

    # Release 2: Jane pilots, Bob co-pilots; Jane is away, so Bob acts as pilot.
    clock.set(MONDAY + timedelta(days=7))
    await open_release(tower, 2, "pilot jane, co-pilot bob")
    await ok(tower, "/rotation away 2026-11-30 2026-12-02", as_="jane")
    status = await ok(tower, "/release status demo", as_="elvis")
    assert crew_of(status) == "pilot jane (away until 2026-12-02; bob acts as pilot), co-pilot bob"
    clock.set(MONDAY + timedelta(days=8, hours=1))
    await ok(tower, "/release ship demo", as_="bob")
    # A page just after shipping: Bob stands in for Jane; the co-pilot step (Bob) and the previous
    # pilot step (Bob, release 1's pilot) are skipped, so the release managers come next.
    clock.set(MONDAY + timedelta(days=8, hours=2))
    before = await page_counts(tower)
    paged = await ok(tower, "/page demo the new build crashes", as_="tobby")
    assert paged.text == "Page #2 sent to bob (acting pilot of demo 1.3.1)."
    assert paged.footer == "Unacknowledged, it goes to the release managers in 15 minutes."
    clock.advance(minutes=15)
    assert await escalate_due(tower.services) == 1
    assert await paged_since(tower, before) == {"bob": 1, "alice": 1}  # never jane: she is away
    assert await team_says(tower, "Page #2") == (
        "Page #2 for demo 1.3.1: the new build crashes — paging the release managers: alice "
        "(skipped step 2: the co-pilot, bob, was paged already; "
        "skipped step 3: the previous release's pilot, bob, was paged already)."
    )
    await ok(tower, "/ack 2", as_="alice")

    # Release 3: Jane and Tobby. Tobby opts out: Jane cannot replace him (she is the pilot); Elvis can.
    clock.set(MONDAY + timedelta(days=14))
    await open_release(tower, 3, "pilot jane, co-pilot tobby")
    assert (await refused(tower, "/rotation optout demo --replacement jane", "tobby")).startswith(
        "jane is already the pilot of demo 1.3.2, and a person holds one seat."
    )
    await ok(tower, "/rotation optout demo --replacement elvis", as_="tobby")
    await ok(tower, "/rotation accept demo", as_="elvis")
    assert crew_of(await ok(tower, "/release status demo")) == "pilot jane, co-pilot elvis"
    assert (await refused(tower, "/release ship demo", "tobby")).startswith("Only the pilot or release managers")
    clock.set(MONDAY + timedelta(days=18, hours=1))  # Friday: no releases, and Monday is the next working day
    assert "the next working day is Monday 2026-12-14" in await refused(tower, "/release ship demo", "jane")
    clock.set(MONDAY + timedelta(days=21))
    await ok(tower, "/release ship demo", as_="jane")

    # Release 4: Elvis and Jane swap. Tobby rides in the one jump seat; Bob cannot have a second.
    clock.set(MONDAY + timedelta(days=21, hours=1))
    await open_release(tower, 4, "pilot elvis, co-pilot jane")
    await ok(tower, "/rotation jumpseat demo", as_="tobby")
    assert (await refused(tower, "/rotation jumpseat demo", "bob")).startswith(
        "demo 1.3.3 has 1 jump seat: taken by tobby."
    )
    assert (await refused(tower, "/scope unfreeze demo --reason x", "tobby")).startswith("Only the pilot")
    before = await page_counts(tower)
    assert (await ok(tower, "/page demo tests flake", as_="bob")).text == "Page #3 sent to elvis (pilot of demo 1.3.3)."
    assert await paged_since(tower, before) == {"elvis": 1}
    assert "FYI: page #3 for demo 1.3.3: tests flake" in await dms(tower, "tobby")
    await ok(tower, "/ack 3", as_="elvis")
    clock.advance(days=1)
    await ok(tower, "/release ship demo", as_="elvis")

    # Release 5: Elvis hands over to Tobby. After shipping, a page escalates: the previous release's
    # pilot is Elvis again, so that step is skipped for the release managers.
    clock.set(MONDAY + timedelta(days=28))
    await open_release(tower, 5, "pilot elvis, co-pilot tobby")
    assert (await refused(tower, "/release ship demo", "jane")).startswith("Only the pilot or release managers")
    clock.set(MONDAY + timedelta(days=29, hours=1))
    await ok(tower, "/release ship demo", as_="elvis")
    clock.set(MONDAY + timedelta(days=30))
    before = await page_counts(tower)
    assert (await ok(tower, "/page demo broken on Windows", as_="bob")).text == (
        "Page #4 sent to elvis (pilot of demo 1.3.4)."
    )
    reached = []
    for _ in range(3):
        clock.advance(minutes=15)
        assert await escalate_due(tower.services) == 1
        reached.append(await team_says(tower, "Page #4"))
    assert reached[0].endswith("paging the co-pilot: tobby.")
    assert reached[1].endswith(
        "paging the release managers: alice (skipped step 3: the previous release's pilot, elvis, was paged already)."
    )
    assert reached[2].endswith("paging the pilot: elvis.")  # around again
    assert await paged_since(tower, before) == {"elvis": 2, "tobby": 1, "alice": 1}
    assert (await refused(tower, "/ack 4", "jane")).startswith("Only the people paged so far")
    await ok(tower, "/ack 4", as_="tobby")
