"""Exactly one pipeline per deploy, through real CI protocols (local fakes): a CI that accepts the
request and then times out is looked up, not triggered again; callbacks are signed, fresh and
never applied twice."""

import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.web import build_web_app
from commands.deploy.reconcile import reconcile
from jobs.scheduler import Wakeups
from storage.queries import deploys
from tests.ci_callbacks import signed as signed_callback
from tests.fakes.ci_github import FakeGitHubActions
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.release_repos import repo_settings
from tests.support import run, snapshot

SECRET = "callback-secret"


async def prepared(tmp_path, db_target, clock, ci: dict, env: dict):
    settings, _ = repo_settings(
        tmp_path,
        ci={"secret_env": "TOWER_CI_SECRET", "timeout_seconds": 0.5, **ci},
        checklist=[],
        post_deploy_steps=["Explorer updated"],
    )
    tower = await open_tower(settings, {**db_target.env(), "TOWER_CI_SECRET": SECRET, **env}, clock=clock)
    for text in (
        "/release new demo",
        "/rotation assign demo",
        "/release name demo --yes",
        "/scope freeze demo",
        '/scope add demo "Pausing" --tests T1 --override "late"',
        "/rc cut demo",
    ):
        assert (await run(tower, text)).ok, text
    return tower


async def only_deployment(tower):
    async with tower.services.db.read() as s:
        (deployment,) = await deploys.of_release(s, 1)
    return deployment


@pytest.fixture
async def github_tower(tmp_path, db_target, clock):
    async with FakeGitHubActions("acme/demo", "deploy.yml", token="ghp_fake") as actions:
        tower = await prepared(
            tmp_path,
            db_target,
            clock,
            {"provider": "github", "repository": "acme/demo", "workflow": "deploy.yml", "url": actions.base_url},
            {"GITHUB_TOKEN": "ghp_fake"},
        )
        tower.actions = actions
        try:
            yield tower
        finally:
            await tower.close()


async def test_github_accepts_then_times_out_and_tower_finds_the_run_instead_of_dispatching_again(github_tower, clock):
    tower, actions = github_tower, github_tower.actions
    actions.timeout_next("POST", "dispatches", delay=2.0)
    reply = await run(tower, "/deploy start demo")
    assert not reply.ok and "did not answer" in reply.text and "It may have started" in reply.footer
    assert (await only_deployment(tower)).state == "pending"
    clock.advance(seconds=31)
    assert await reconcile(tower.services) == 1
    deployment = await only_deployment(tower)
    assert deployment.state == "running" and actions.started == 1 and len(actions.dispatches) == 1
    actions.set_status(deployment.run_id, "completed", "success")
    clock.advance(minutes=2)
    await reconcile(tower.services)
    assert (await run(tower, "/release status demo")).text == "demo 1.3.0: simmering"
    assert actions.started == 1


async def test_a_rate_limited_lookup_leaves_the_deploy_pending_and_asks_nothing_until_the_reset(github_tower, clock):
    tower, actions = github_tower, github_tower.actions
    actions.timeout_next("POST", "dispatches", delay=2.0)
    assert not (await run(tower, "/deploy start demo")).ok
    actions.limits.exhaust(reset_in=3600, status=429)  # GitHub's quota, back in an hour
    asked = len(actions.calls)
    clock.advance(seconds=31)
    await reconcile(tower.services)
    assert (await only_deployment(tower)).state == "pending"  # not "refused": tried again later
    assert [c.status for c in actions.calls[asked:]] == [429]
    clock.advance(minutes=2)
    await reconcile(tower.services)
    assert len(actions.calls) == asked + 1  # held off until the reset


@pytest.fixture
async def webhook_tower(tmp_path, db_target, clock):
    async with FakeCIWebhook(secret=SECRET) as receiver:  # the project's one secret signs both ways
        tower = await prepared(
            tmp_path,
            db_target,
            clock,
            {"provider": "webhook", "url": receiver.url, "secret_env": "TOWER_CI_SECRET"},
            {},
        )
        tower.receiver = receiver
        try:
            yield tower
        finally:
            await tower.close()


async def test_a_webhook_that_times_out_is_asked_again_under_the_same_key(webhook_tower, clock):
    webhook_tower.receiver.timeout_next(delay=2.0)
    assert not (await run(webhook_tower, "/deploy start demo")).ok
    clock.advance(seconds=31)
    await reconcile(webhook_tower.services)
    assert (await only_deployment(webhook_tower)).state == "running"
    assert webhook_tower.receiver.started == 1 and len(webhook_tower.receiver.received) == 2


def signed(body: dict, secret: str = SECRET, *, at: int | None = None, delivery: str = "d-1") -> tuple[bytes, dict]:
    return signed_callback(body, secret, at=at, delivery=delivery)


@pytest.fixture
async def hooks(webhook_tower):
    assert (await run(webhook_tower, "/deploy start demo")).ok
    async with TestClient(TestServer(build_web_app(webhook_tower, Wakeups(webhook_tower.services)))) as client:
        webhook_tower.client = client
        webhook_tower.op = (await only_deployment(webhook_tower)).operation_id
        yield webhook_tower


async def post(tower, body, **kw):
    raw, headers = signed(body, **kw)
    response = await tower.client.post("/hooks/ci", data=raw, headers=headers)
    return response.status, await response.json()


async def test_signed_callbacks_drive_the_deploy_results_and_steps(hooks):
    event = {"project": "demo", "operation_id": hooks.op}
    assert (await post(hooks, {**event, "event": "deploy.succeeded", "run_url": "https://ci/run/7"}, delivery="a"))[
        0
    ] == 200
    status, body = await post(hooks, {**event, "event": "smoke.passed"}, delivery="b")
    assert status == 200 and body["outcome"] == "smoke test passed; simmering"
    await post(hooks, {**event, "event": "acceptance", "results": [{"test": "T1", "outcome": "pass"}]}, delivery="c")
    await post(hooks, {**event, "event": "step", "name": "Explorer updated", "outcome": "done"}, delivery="d")
    assert "#1 Pausing — ready (T1 pass)" in (await run(hooks, "/scope list demo")).sections[0]
    checklist = (await run(hooks, "/checklist show demo")).sections[0]
    assert "[x] 6. Explorer updated (v1.3.0-rc1 on production) (before ship) — ci, 2026-11-20 09:00 UTC" in checklist
    assert "https://ci/run/7" in (await run(hooks, "/deploy status demo")).sections[0]


@pytest.mark.parametrize("problem", ["bad signature", "stale", "no delivery id", "unknown project"])
async def test_forged_stale_or_anonymous_callbacks_are_refused_and_change_nothing(hooks, problem):
    before = await snapshot(hooks.services.db)
    event = {"project": "demo", "operation_id": hooks.op, "event": "deploy.failed", "detail": "forged"}
    if problem == "bad signature":
        status, _ = await post(hooks, event, secret="guess")
    elif problem == "stale":
        status, _ = await post(hooks, event, at=int(time.time()) - 6 * 60)
    elif problem == "no delivery id":
        raw, headers = signed(event)
        del headers["X-Tower-Delivery"]
        status = (await hooks.client.post("/hooks/ci", data=raw, headers=headers)).status
    else:
        status, _ = await post(hooks, {**event, "project": "nope"})
    assert status in (400, 401, 404)
    assert await snapshot(hooks.services.db) == before


async def test_a_replayed_callback_changes_nothing(hooks):
    event = {"project": "demo", "operation_id": hooks.op, "event": "deploy.failed", "detail": "real failure"}
    assert (await post(hooks, event, delivery="once"))[0] == 200
    before = await snapshot(hooks.services.db)
    status, body = await post(hooks, event, delivery="once")
    assert (status, body) == (200, {"status": "duplicate"})
    assert await snapshot(hooks.services.db) == before


async def test_an_unknown_operation_is_not_found(hooks):
    status, body = await post(hooks, {"project": "demo", "operation_id": "nope", "event": "deploy.failed"})
    assert status == 404 and body == {"error": "unknown operation id"}


async def test_any_ci_ticks_a_step_and_says_where_a_retirement_archived_the_logs(hooks):
    event = {"project": "demo", "operation_id": hooks.op}
    await post(hooks, {**event, "event": "step.done", "name": "Explorer updated"}, delivery="s")  # mid-deploy
    await post(hooks, {**event, "event": "deploy.succeeded"}, delivery="a")
    await post(hooks, {**event, "event": "smoke.passed"}, delivery="b")
    checklist = (await run(hooks, "/checklist show demo")).sections[0]
    assert "[x] 6. Explorer updated (v1.3.0-rc1 on production) (before ship) — ci" in checklist
    assert (await run(hooks, "/deploy retire demo")).ok
    retire_op = (await only_deployment(hooks)).retire_operation_id
    failed = {"project": "demo", "operation_id": retire_op, "event": "retire.failed", "detail": "bucket gone"}
    assert (await post(hooks, failed, delivery="r1"))[1]["outcome"] == "retire failed"
    deployment = await only_deployment(hooks)
    assert deployment.state == "live" and deployment.failure == "retire failed: bucket gone"
    assert (await run(hooks, "/deploy retire demo")).ok  # again, as a new operation
    retire_op = (await only_deployment(hooks)).retire_operation_id
    done = {"project": "demo", "operation_id": retire_op, "event": "retire.done", "archive": "https://logs.example/7"}
    status, body = await post(hooks, done, delivery="r2")
    assert (status, body["outcome"]) == (200, "retired")
    assert (await run(hooks, "/deploy status demo")).sections[0].endswith(" — logs archived: https://logs.example/7")
