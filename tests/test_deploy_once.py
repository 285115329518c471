"""`/deploy start` exactly once: ten shells at once start one deployment; deploying again what is
live, has passed its simmer or was deployed minutes ago needs --again, which says what it restarts."""

from __future__ import annotations

import asyncio

import pytest

from storage.queries import deploys
from tests.deploy_support import ready_to_deploy, settle
from tests.process_support import database, deployable_config, kill_all, shell
from tests.support import run, snapshot


async def test_ten_shells_asking_at_once_start_one_deployment(tmp_path, db_target, clock):
    config, env = await deployable_config(tmp_path, db_target, clock, ci={"command": "echo run >> runs.txt; sleep 1"})
    people = ["alice", "bob", "jane"]
    shells = [shell(config, env, tmp_path, people[i % 3], "/deploy start demo") for i in range(10)]
    try:
        answers = await asyncio.gather(*(asyncio.to_thread(p.communicate, timeout=240) for p in shells))
    finally:
        for p in shells:
            if p.poll() is None:
                kill_all(p)
    started = [out for p, (out, _) in zip(shells, answers, strict=True) if p.returncode == 0]
    refused = [err for p, (_, err) in zip(shells, answers, strict=True) if p.returncode != 0]
    assert len(started) == 1 and "Deploying v1.3.0-rc1 to production." in started[0], answers
    assert len(refused) == 9
    for err in refused:
        assert "Traceback" not in err, err
        # In flight, it is "already deploying"; once live, the same request twice.
        assert "demo 1.3.0 is already deploying: " in err or "so this looks like the same request twice" in err, err
    assert (tmp_path / "data" / "ci" / "demo" / "runs.txt").read_text() == "run\n"
    db = database(db_target)
    try:
        async with db.read() as s:
            (deployment,) = await deploys.of_release(s, 1)
        assert deployment.state == "live"
    finally:
        await db.close()


@pytest.fixture
async def live(tmp_path, db_target, clock):
    """demo 1.3.0's rc1 live and simmering (day 1 of 7), with a post-deploy step."""
    tower = await ready_to_deploy(
        tmp_path, db_target, clock, ci={"command": "echo run >> runs.txt"}, post_deploy_steps=["Explorer updated"]
    )
    assert (await run(tower, "/deploy start demo")).ok
    await settle(tower)
    yield tower
    await tower.close()


def runs(tmp_path) -> int:
    return len((tmp_path / "data" / "ci" / "demo" / "runs.txt").read_text().splitlines())


async def test_the_same_deploy_again_within_two_minutes_is_a_double_request(live, tmp_path, clock):
    clock.advance(seconds=40)
    before = await snapshot(live.services.db)
    twice = await run(live, "/deploy start demo", as_="bob")
    assert not twice.ok
    assert twice.text == (
        "Deployment #1 (v1.3.0-rc1 to production) was started by alice 40s ago and is live, so this looks like "
        "the same request twice; nothing was changed. To deploy v1.3.0-rc1 to production once more, add --again."
    )
    assert await snapshot(live.services.db) == before and runs(tmp_path) == 1


async def test_redeploying_the_live_candidate_needs_again_and_restarts_the_simmer(live, tmp_path, clock):
    clock.advance(days=2, hours=1)
    before = await snapshot(live.services.db)
    refused = await run(live, "/deploy start demo")
    assert not refused.ok
    assert refused.text == (
        "v1.3.0-rc1 is already live on production (deployment #1, simmering: day 2 of 7). Deploying it again "
        "runs the deploy pipeline once more and restarts the simmer at day 0; nothing was changed. "
        "If that is what you want, add --again: `/deploy start demo@1.3.0 --again`."
    )
    assert await snapshot(live.services.db) == before and runs(tmp_path) == 1

    again = await run(live, "/deploy start demo --again")
    assert again.ok and again.text == "Deploying v1.3.0-rc1 to production again."
    fields = {f.label: f.value for f in again.fields}
    assert fields["Restarts"] == (
        "the deploy pipeline (a new run), and the simmer at day 0 when the smoke test passes "
        "(v1.3.0-rc1 is already live on production (deployment #1, simmering: day 2 of 7))"
    )
    await settle(live)
    assert runs(tmp_path) == 2
    status = {f.label: f.value for f in (await run(live, "/release status demo")).fields}
    assert status["Simmer"] == "running, day 0 of 7"  # deploy day is day 0
    assert status["Deployed"] == "`v1.3.0-rc1` on production (live)"
    async with live.services.db.read() as s:
        assert [d.state for d in await deploys.of_release(s, 1)] == ["superseded", "live"]
    checklist = (await run(live, "/checklist show demo")).sections[0]
    assert "[ ] 6. ~Explorer updated (v1.3.0-rc1 on production)~ (before ship) — void — deployment 1 replaced" in (
        checklist
    )
    assert "[ ] 7. Explorer updated (v1.3.0-rc1 on production) (before ship)" in checklist


async def test_a_candidate_that_passed_its_simmer_is_deployed_again_only_with_again(live, clock):
    clock.advance(days=7, hours=1)
    await run(live, "/release status demo")  # the shell's catch-up passes the simmer
    from jobs.scheduler import due_work

    await due_work(live.services)
    refused = await run(live, "/deploy start demo")
    assert not refused.ok and refused.text.startswith("v1.3.0-rc1 has passed its simmer on production. ")
    assert (await run(live, "/deploy start demo --again")).ok


async def test_a_new_candidate_deploys_without_again(live, clock):
    clock.advance(minutes=5)
    assert (await run(live, "/rc cut demo --again")).ok
    reply = await run(live, "/deploy start demo")
    assert reply.ok and reply.text == "Deploying v1.3.0-rc2 to production."
