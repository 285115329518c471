"""The release checklist: automatic items follow the release, manual ones are ticked by people,
and steps are refused with exactly what is missing; blackout days and their override."""

from datetime import UTC, date, datetime

import pytest

from bot.app import open_tower
from commands.engine.outbox import decode
from commands.rules.calendar_days import blackout_gate
from storage.queries import audit, outbox
from tests.release_repos import repo_settings
from tests.support import run, snapshot

TEMPLATE = [{"text": "Release notes reviewed", "before": "ship"}, {"text": "Security review", "before": "rc"}]


@pytest.fixture
async def tower_with_checklist(tmp_path, db_target, clock):
    settings, _ = repo_settings(tmp_path, checklist=TEMPLATE, ci=None)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    await run(tower, "/release new demo")
    yield tower
    await tower.close()


async def test_a_new_release_gets_towers_items_then_the_template(tower_with_checklist):
    shown = await run(tower_with_checklist, "/checklist show demo")
    assert shown.text == "Checklist of demo#1: 0 of 6 done."
    assert shown.sections[0].splitlines() == [
        "[ ] 1. Changelog named (before rc) — Tower checks this",
        "[ ] 2. Scope frozen (before rc) — Tower checks this",
        "[ ] 3. Tag exists on the forge (before deploy) — Tower checks this",
        "[ ] 4. All acceptance tests pass on the candidate (before ship) — Tower checks this",
        "[ ] 5. Release notes reviewed (before ship)",
        "[ ] 6. Security review (before rc)",
    ]
    assert shown.footer.startswith("Cutting a candidate waits for 1, 2, 6; deploying waits for 1, 2, 3, 6")


async def test_automatic_items_follow_the_release_and_cannot_be_ticked(tower_with_checklist):
    tower = tower_with_checklist
    refused = await run(tower, "/checklist check demo 2")
    assert not refused.ok and "ticked by Tower when it is true; nobody ticks it by hand" in refused.text
    await run(tower, "/release name demo --yes")
    await run(tower, "/scope freeze demo")
    lines = (await run(tower, "/checklist show demo")).sections[0].splitlines()
    assert lines[0].startswith("[x] 1. Changelog named") and lines[1].startswith("[x] 2. Scope frozen")
    await run(tower, '/scope unfreeze demo --reason "one more"')
    assert (await run(tower, "/checklist show demo")).sections[0].splitlines()[1].startswith("[ ] 2. Scope frozen")


async def test_a_gate_lists_exactly_what_is_missing_and_passes_once_met(tower_with_checklist, clock):
    tower = tower_with_checklist
    await run(tower, "/release name demo --yes")
    await run(tower, "/scope freeze demo")
    before = await snapshot(tower.services.db)
    refused = await run(tower, "/rc cut demo")
    assert refused.text.startswith("Not ready for cutting a candidate: 6. Security review.")
    assert await snapshot(tower.services.db) == before
    ticked = await run(tower, "/checklist check demo 6", as_="jane")
    assert not ticked.ok  # jane is not crew yet
    assert (await run(tower, "/checklist check demo 6")).text == "Ticked 6. Security review (demo 1.3.0)."
    assert "alice, 2026-11-20 09:00 UTC" in (await run(tower, "/checklist show demo")).sections[0].splitlines()[5]
    assert (await run(tower, "/rc cut demo")).ok
    ship = await run(tower, "/release ship demo")
    assert ship.text == (
        "Not shipping: Not ready for shipping: 5. Release notes reviewed. A release manager may "
        "ship anyway with `--override REASON`, which is recorded."
    )
    await run(tower, "/checklist check demo 5")
    assert (await run(tower, "/release ship demo")).ok


async def test_acceptance_results_tick_the_acceptance_item(tower_with_checklist):
    tower = tower_with_checklist
    for text in (
        "/release name demo --yes",
        '/scope add demo "A" --tests T1',
        "/scope freeze demo",
        "/checklist check demo 6",
        "/rc cut demo",
        "/checklist check demo 5",
    ):
        assert (await run(tower, text)).ok, text
    assert "4. All acceptance tests pass on the candidate" in (await run(tower, "/release ship demo")).text
    await run(tower, "/scope result demo T1 pass")
    assert (await run(tower, "/release ship demo")).ok


async def test_manual_items_can_be_added_and_unticked(tower_with_checklist):
    tower = tower_with_checklist
    added = await run(tower, "/checklist add demo Docs site updated --before ship")
    assert added.text == "Added item 7 to the checklist of demo#1: Docs site updated, before ship."
    await run(tower, "/checklist check demo 7")
    twice = await run(tower, "/checklist check demo 7")
    assert not twice.ok and twice.text == "Item 7 is already ticked."
    assert (await run(tower, "/checklist uncheck demo 7")).ok
    missing = await run(tower, "/checklist check demo 42")
    assert not missing.ok and missing.text.startswith("demo#1 has no checklist item 42.")
    async with tower.services.db.read() as s:
        assert [e.action for e in await audit.entries(s)][-3:] == [
            "checklist.add",
            "checklist.check",
            "checklist.uncheck",
        ]


async def test_no_shipping_on_a_blackout_day_unless_a_release_manager_overrides(tmp_path, db_target, clock):
    settings, _ = repo_settings(
        tmp_path, checklist=[], ci=None, blackout_weekdays=["friday"], blackout_dates=["2026-12-24"]
    )
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        for text in (
            "/release new demo",
            "/rotation assign demo",
            "/release name demo --yes",
            "/scope freeze demo",
            "/rc cut demo",
        ):
            assert (await run(tower, text)).ok
        clock.set(datetime(2026, 11, 20, 15, tzinfo=UTC))  # a Friday
        refused = await run(tower, "/release ship demo", as_="bob")
        assert refused.text.startswith(
            "Not shipping: today is a blackout day (no releases on a Friday); the next working day is "
            "Monday 2026-11-23 (Saturday and Sunday are the weekend, when breakage would wait for people)."
        )
        pilot = await run(tower, '/release ship demo --override "security fix"', as_="bob")
        assert not pilot.ok and pilot.text == "Only release managers may ship with `--override`."
        clock.set(datetime(2026, 12, 24, 12, tzinfo=UTC))
        assert "2026-12-24 is a blackout date" in (await run(tower, "/release ship demo")).text
        shipped = await run(tower, '/release ship demo --override "security fix"')
        assert shipped.ok
        async with tower.services.db.read() as s:
            entry = (await audit.entries(s))[-1]
        assert entry.action == "release.ship" and "2026-12-24 is a blackout date" in entry.detail
        assert entry.detail.endswith("security fix")
    finally:
        await tower.close()


def test_the_next_working_day_skips_the_weekend_days_the_project_names():
    friday = date(2026, 11, 20)
    assert blackout_gate(friday, ["friday"], [], ["sunday"]) == (
        "today is a blackout day (no releases on a Friday); the next working day is Saturday 2026-11-21"
    )
    assert blackout_gate(friday, ["friday"], [date(2026, 11, 23)], ["saturday", "sunday"]).endswith(
        "the next working day is Tuesday 2026-11-24 (Saturday and Sunday are the weekend, when breakage would wait "
        "for people)"
    )
    assert blackout_gate(date(2026, 11, 19), ["friday"], [], ["saturday", "sunday"]) is None


async def test_a_feature_without_acceptance_tests_holds_the_ship_until_tested_dropped_or_overridden(
    tower_with_checklist,
):
    tower = tower_with_checklist
    for text in (
        "/release name demo --yes",
        '/scope add demo "Tested" --tests T1',
        '/scope add demo "Release pages"',
        "/scope freeze demo",
        "/checklist check demo 6",
        "/rc cut demo",
        "/checklist check demo 5",
        "/scope result demo T1 pass",
    ):
        assert (await run(tower, text)).ok, text
    before = await snapshot(tower.services.db)
    refused = await run(tower, "/release ship demo")
    assert not refused.ok and (
        "4. All acceptance tests pass on the candidate (#2 Release pages has no acceptance tests)" in refused.text
    )
    assert await snapshot(tower.services.db) == before
    shown = (await run(tower, "/checklist show demo")).sections[0].splitlines()[3]
    assert shown.startswith("[ ] 4.") and shown.endswith("Tower checks this: #2 Release pages has no acceptance tests")
    assert (await run(tower, '/scope remove demo 2 --override "not in this release"')).ok
    assert (await run(tower, "/release ship demo")).ok


async def test_adding_ticking_and_unticking_tell_the_team(tower_with_checklist):
    tower = tower_with_checklist

    async def team_posts() -> list[str]:
        async with tower.services.db.read() as s:
            return [decode(r.payload).text for r in await outbox.all_for(s, "console:team")]

    before = await team_posts()
    await run(tower, "/checklist add demo Docs site updated --before ship")
    await run(tower, "/checklist check demo 7")
    await run(tower, "/checklist uncheck demo 7")
    assert (await team_posts())[len(before) :] == [
        "Alice added item 7 to the checklist of demo#1: Docs site updated, before ship.",
        "Alice ticked 7. Docs site updated on the checklist of demo#1.",
        "Alice unticked 7. Docs site updated on the checklist of demo#1.",
    ]
    refused = await run(tower, "/checklist uncheck demo 7")
    assert not refused.ok and len(await team_posts()) == len(before) + 3
