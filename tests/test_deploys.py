"""/deploy with the local CI: exactly one pipeline, the simmer on success, a page on failure."""

import asyncio

import pytest

from storage.queries import audit, deploys, outbox, pages
from tests.deploy_support import ready_to_deploy, settle
from tests.support import run, snapshot


@pytest.fixture
async def deployable(tmp_path, db_target, clock):
    tower = await ready_to_deploy(
        tmp_path, db_target, clock, ci={"smoke_command": "true", "retire_command": "echo archived > retired.txt"}
    )
    yield tower
    await tower.close()


async def status_fields(tower) -> dict:
    return {f.label: f.value for f in (await run(tower, "/release status demo")).fields}


async def test_a_deploy_that_passes_its_smoke_test_starts_the_simmer(deployable):
    reply = await run(deployable, "/deploy start demo")
    assert reply.ok and reply.text == "Deploying v1.3.0-rc1 to production."
    await settle(deployable)
    fields = await status_fields(deployable)
    status = await run(deployable, "/release status demo")
    assert status.text == "demo 1.3.0: simmering"
    assert "deploy → deploying by alice: v1.3.0-rc1 to production" in status.sections[0]  # who asked, not Tower
    assert fields["Deployed"] == "`v1.3.0-rc1` on production (live)" and fields["Simmer"] == "running, day 0 of 7"
    async with deployable.services.db.read() as s:
        team = [r.payload for r in await outbox.all_for(s, "console:team")]
    assert any("v1.3.0-rc1 is live on production; demo 1.3.0 simmers for 7 days." in p for p in team)


async def test_a_failed_deploy_fails_the_candidate_pages_the_pilot_and_says_what_next(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"command": "echo disk full; exit 3"})
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        assert (await run(tower, "/release status demo")).text == "demo 1.3.0: failed"
        listing = (await run(tower, "/rc list demo")).sections[0]
        assert "v1.3.0-rc1" in listing and "failed" in listing
        async with tower.services.db.read() as s:
            (page,) = await pages.open_pages(s)
            team = [r.payload for r in await outbox.all_for(s, "console:team")]
            to_pilot = await outbox.all_for(s, "console-dm:bob")
        assert page.source == "deploy-failed" and "disk full" in page.message
        assert to_pilot and "the deploy of v1.3.0-rc1 on production failed: disk full" in to_pilot[0].payload
        assert any("Next: fix it and cut the next candidate with `/rc cut demo@1.3.0 --patch`" in p for p in team)
        status = await run(tower, "/release status demo")
        assert status.footer == (
            "Next: `/rc cut demo@1.3.0 --patch` to cut the next build or patch with the fix, then deploy it."
        )  # not `/deploy start`: the failed candidate cannot be deployed again
        deployments = (await run(tower, "/deploy status demo")).sections[0]
        assert "failed: disk full" in deployments
        assert (await run(tower, "/rc cut demo --patch")).text.startswith("Cut v1.3.0-rc1-p1")
    finally:
        await tower.close()


async def test_a_failed_smoke_test_is_a_failed_deploy(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"smoke_command": "echo explorer 500 >&2; false"})
    try:
        await run(tower, "/deploy start demo")
        await settle(tower)
        async with tower.services.db.read() as s:
            (page,) = await pages.open_pages(s)
        assert page.source == "smoke-failed" and "explorer 500" in page.message
        assert (await run(tower, "/release status demo")).text == "demo 1.3.0: failed"
    finally:
        await tower.close()


async def test_a_double_click_starts_one_pipeline(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"command": "echo run >> runs.txt; sleep 0.3"})
    try:
        replies = await asyncio.gather(run(tower, "/deploy start demo"), run(tower, "/deploy start demo"))
        assert sorted(r.ok for r in replies) == [False, True]
        refusal = next(r.text for r in replies if not r.ok)
        assert refusal.startswith(
            "demo 1.3.0 is already deploying: deployment #1 (v1.3.0-rc1 to production) was started"
        )
        await settle(tower)
        assert (tmp_path / "data" / "ci" / "demo" / "runs.txt").read_text() == "run\n"
    finally:
        await tower.close()


async def test_deploying_needs_a_candidate_and_a_state_that_allows_it(tmp_path, db_target, clock):
    from bot.app import open_tower
    from tests.release_repos import repo_settings

    settings, _ = repo_settings(tmp_path, ci={"provider": "local", "command": "true"})
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        await run(tower, "/release new demo")
        before = await snapshot(tower.services.db)
        reply = await run(tower, "/deploy start demo")
        assert not reply.ok and reply.text.startswith("Can't deploy demo#1: it is in planning")
        unknown_env = await run(tower, "/deploy start demo --env mars")
        assert not unknown_env.ok and "has no environment `mars`" in unknown_env.text
        assert await snapshot(tower.services.db) == before
    finally:
        await tower.close()


async def test_no_deploying_on_a_blackout_day_without_a_recorded_override(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, blackout_weekdays=["friday"])  # the clock says Friday
    try:
        refused = await run(tower, "/deploy start demo")
        assert not refused.ok and "today is a blackout day (no releases on a Friday)" in refused.text
        assert (await run(tower, '/deploy start demo --override "hotfix"')).ok
        async with tower.services.db.read() as s:
            entry = [e for e in await audit.entries(s) if e.action == "deploy.start"][-1]
        assert entry.detail.endswith("; override: hotfix")
    finally:
        await tower.close()


async def test_retiring_a_deployment_by_hand(deployable):
    await run(deployable, "/deploy start demo")
    await settle(deployable)
    reply = await run(deployable, "/deploy retire demo")
    assert reply.ok and reply.text == "Retiring 1 deployment of demo 1.3.0."
    await settle(deployable)
    async with deployable.services.db.read() as s:
        (deployment,) = await deploys.of_release(s, 1)
    assert deployment.state == "retired"
    nothing = await run(deployable, "/deploy retire demo")
    assert not nothing.ok and "has no running deployment" in nothing.text
