"""The local CI's run book across processes: a deploy that runs in one `tower shell` is judged from
its record by every other process — heartbeating, it is left to run; finished, its result applies;
its process gone, it failed because the Tower process running it stopped."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bot.app import open_tower
from bot.integrations.local_runs import STALE_AFTER, STOPPED, RunBook, wall_now
from commands.engine.ports import RunRequest
from storage.queries import deploys, local_runs, pages, releases
from tests.deploy_support import ready_to_deploy, settle
from tests.process_support import database, deployable_config, kill_all, shell, until
from tests.shell_process import run_tower
from tests.support import run


async def _deployment(db):
    async with db.read() as s:
        found = await deploys.of_release(s, 1)
        run_row = await local_runs.get(s, found[0].operation_id) if found else None
    return (found[0] if found else None), run_row


async def deploying(config, env, cwd, db):
    """alice's `/deploy start demo` in a shell of its own, once its local run is under way."""
    deployer = shell(config, env, cwd, "alice", "/deploy start demo")

    async def running() -> bool:
        deployment, row = await _deployment(db)
        return deployment is not None and deployment.state == "running" and row is not None

    await until(running, timeout=60)
    return deployer


async def test_a_deploy_running_in_one_shell_is_left_alone_by_another(tmp_path, db_target, clock):
    config, env = await deployable_config(
        tmp_path, db_target, clock, ci={"command": "echo deploying; sleep 6; echo deployed"}
    )
    db = database(db_target)
    deployer = await deploying(config, env, tmp_path, db)
    try:
        seen = []
        while deployer.poll() is None:  # bob looks, from another process, while it runs
            look = await asyncio.to_thread(
                run_tower,
                ["--config", str(config), "shell", "--as", "bob", "-c", "/release status demo"],
                tmp_path,
                env,
            )
            assert look.returncode == 0 and "Traceback" not in look.stderr, look.stderr
            seen.append(look.stdout.splitlines()[0])
        out, err = deployer.communicate(timeout=60)
        assert deployer.returncode == 0, err
        assert "Deploying v1.3.0-rc1 to production." in out
        assert "demo 1.3.0: deploying" in seen, seen  # it was looked at mid-run
        deployment, row = await _deployment(db)
        async with db.read() as s:
            assert await pages.open_pages(s) == []
            release = await releases.by_number(s, 1, 1)
        assert deployment.state == "live" and deployment.failure is None
        assert release.state == "simmering"
        assert row.status == "succeeded" and row.step == "smoke" and row.exit_code == 0
        assert "deployed" in row.output
    finally:
        if deployer.poll() is None:
            kill_all(deployer)
        await db.close()


async def test_a_deploy_whose_shell_was_killed_fails_for_the_next_process_that_looks(tmp_path, db_target, clock):
    config, env = await deployable_config(tmp_path, db_target, clock, ci={"command": "sleep 120"})
    db = database(db_target)
    deployer = await deploying(config, env, tmp_path, db)
    try:
        kill_all(deployer)  # the shell and its deploy command, mid-run
        look = await asyncio.to_thread(
            run_tower, ["--config", str(config), "shell", "--as", "bob", "-c", "/release status demo"], tmp_path, env
        )
        assert look.returncode == 0, look.stderr
        assert f"#team | The deploy of v1.3.0-rc1 on production failed: {STOPPED}" in look.stdout
        deployment, row = await _deployment(db)
        async with db.read() as s:
            (page,) = await pages.open_pages(s)
        assert deployment.state == "failed" and deployment.failure == STOPPED
        assert row.status == "failed" and row.output == STOPPED
        assert page.source == "deploy-failed" and STOPPED in page.message
    finally:
        await db.close()


async def test_two_processes_asked_for_the_same_operation_run_it_once(tmp_path, db_target, clock):
    tower = await ready_to_deploy(tmp_path, db_target, clock, ci={"command": "echo run >> runs.txt"})
    other = await open_tower(tower.settings, db_target.env(), clock=clock)
    try:
        assert (await run(tower, "/deploy start demo")).ok
        deployment, _ = await _deployment(tower.services.db)
        request = RunRequest(deployment.operation_id, "deploy", "demo", "1.3.0", "v1.3.0-rc1", "production")
        elsewhere = other.services.cis.for_project(other.settings.projects["demo"])
        again = await elsewhere.trigger(request)  # a second process asking for the same operation
        await settle(tower)
        await settle(other)
        assert again.run_id == deployment.operation_id
        assert (tmp_path / "data" / "ci" / "demo" / "runs.txt").read_text() == "run\n"
        finished = await elsewhere.status(deployment.operation_id)
        assert finished.status == "succeeded"
        assert [e["event"] for e in finished.events] == ["deploy.succeeded", "smoke.passed"]
    finally:
        await other.close()
        await tower.close()


async def test_a_run_whose_heartbeat_went_silent_elsewhere_is_judged_stopped(database):
    book = RunBook(database)
    now = wall_now()
    async with database.write() as s:
        await local_runs.claim(
            s, operation_id="op-far", pipeline="retire", pid=1, host="another machine", token="t" * 32, now=now
        )
    assert (await book.judge("op-far")).state == "running"  # a fresh heartbeat from another machine
    async with database.write() as s:
        await local_runs.beat(s, "t" * 32, ["op-far"], now - STALE_AFTER - timedelta(seconds=1))
    verdict = await book.judge("op-far")
    assert verdict.state == "finished" and verdict.run.status == "failed" and verdict.run.output == STOPPED
    async with database.write() as s:  # the owner, back after all, cannot overwrite the verdict
        assert not await local_runs.finish(
            s, "op-far", status="succeeded", step="retire", exit_code=0, output="", now=now, token="t" * 32
        )
    book.close()


async def test_the_owner_heartbeats_from_a_thread_while_its_run_lasts(database):
    book = RunBook(database, heartbeat_s=0.1)
    try:
        assert await book.claim("op-here", "deploy")
        assert not await book.claim("op-here", "deploy")  # once per operation, even in its own process
        async with database.read() as s:
            started = (await local_runs.get(s, "op-here")).heartbeat_at
        beat = started
        for _ in range(50):  # up to ten seconds on a busy machine; the thread beats every 0.1 s
            time.sleep(0.2)  # noqa: ASYNC251 - this loop blocked on purpose, as a shell waiting at its prompt
            async with database.read() as s:
                beat = (await local_runs.get(s, "op-here")).heartbeat_at
            if beat > started:
                break
        assert beat > started
        await book.abandon()  # shutting down with it unfinished
        async with database.read() as s:
            row = await local_runs.get(s, "op-here")
        assert row.status == "failed" and row.output == f"{STOPPED} before it finished"
    finally:
        book.close()


async def test_a_shell_waits_for_its_deploy_before_it_exits(tmp_path, db_target, clock):
    # Longer than the half-minute the shell waits for local runs between commands.
    config, env = await deployable_config(tmp_path, db_target, clock, ci={"command": "sleep 32; echo deployed"})
    done = await asyncio.to_thread(
        run_tower, ["--config", str(config), "shell", "--as", "alice", "-c", "/deploy start demo"], tmp_path, env
    )
    assert done.returncode == 0, done.stderr
    assert "Waiting for 1 local CI run this shell started to finish (Ctrl-C stops it)…" in done.stderr
    assert "#team | v1.3.0-rc1 is live on production; demo 1.3.0 simmers for 7 days." in done.stdout
    db = database(db_target)
    try:
        deployment, row = await _deployment(db)
        assert deployment.state == "live" and row.status == "succeeded"
    finally:
        await db.close()
