"""CI callbacks between two projects: the operation's owner decides which secret must sign a
report about it, operation ids cannot be guessed, and a captured callback cannot be replayed
under a new delivery id."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.web import build_web_app
from commands.engine.settings import Settings
from jobs.scheduler import Wakeups
from storage.queries import deploys, pages
from tests.ci_callbacks import signature, signed
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.git_repos import build_repository
from tests.release_repos import released_then
from tests.support import make_settings, run, snapshot

SECRETS = {"alpha": "alpha-callback-secret", "beta": "beta-callback-secret"}


def two_projects(tmp_path, receivers: dict[str, FakeCIWebhook]) -> Settings:
    data = make_settings(tmp_path / "data").model_dump()
    demo = data["projects"].pop("demo")
    for key, receiver in receivers.items():
        repo = tmp_path / f"{key}.git"
        build_repository(repo, released_then())
        data["projects"][key] = {
            **demo,
            "key": key,
            "name": key.title(),
            "repository": str(repo),
            "release_branch": "release",
            "checklist": [],
            "ci": {"provider": "webhook", "url": receiver.url, "secret_env": f"{key.upper()}_CI_SECRET"},
        }
    return Settings.model_validate(data)


@pytest.fixture
async def two(tmp_path, db_target, clock):
    async with FakeCIWebhook(SECRETS["alpha"]) as alpha, FakeCIWebhook(SECRETS["beta"]) as beta:
        env = {**db_target.env(), "ALPHA_CI_SECRET": SECRETS["alpha"], "BETA_CI_SECRET": SECRETS["beta"]}
        tower = await open_tower(two_projects(tmp_path, {"alpha": alpha, "beta": beta}), env, clock=clock)
        try:
            for key in ("alpha", "beta"):
                for text in (
                    f"/release new {key}",
                    f"/rotation assign {key}",
                    f"/release name {key} --yes",
                    f"/scope freeze {key}",
                    f"/rc cut {key}",
                    f"/deploy start {key}",
                ):
                    assert (await run(tower, text)).ok, text
            async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
                tower.client = client
                yield tower
        finally:
            await tower.close()


async def deployment_of(tower, release_id: int):
    async with tower.services.db.read() as session:
        (deployment,) = await deploys.of_release(session, release_id)
    return deployment


async def post(tower, raw: bytes, headers: dict) -> tuple[int, dict]:
    response = await tower.client.post("/hooks/ci", data=raw, headers=headers)
    return response.status, await response.json()


async def test_another_projects_secret_cannot_report_on_this_projects_deployment(two):
    alpha = await deployment_of(two, 1)
    before = await snapshot(two.services.db)
    forged = {"project": "beta", "operation_id": alpha.operation_id, "event": "deploy.failed", "detail": "forged"}
    status, answer = await post(two, *signed(forged, SECRETS["beta"], delivery="forged-1"))
    assert status == 401, answer
    assert await snapshot(two.services.db) == before
    assert (await deployment_of(two, 1)).state == alpha.state
    async with two.services.db.read() as session:
        assert await pages.of_release(session, 1) == []
    # Without naming a project at all, beta's secret is no better.
    del forged["project"]
    assert (await post(two, *signed(forged, SECRETS["beta"], delivery="forged-2")))[0] == 401
    assert await snapshot(two.services.db) == before


async def test_the_owners_secret_applies_the_report_whatever_project_the_body_names(two):
    alpha = await deployment_of(two, 1)
    event = {"operation_id": alpha.operation_id, "event": "deploy.failed", "detail": "disk full"}
    status, answer = await post(two, *signed(event, SECRETS["alpha"], delivery="real-1"))
    assert (status, answer["status"]) == (200, "ok")
    assert (await deployment_of(two, 1)).state == "failed"
    # A body that names another project than the operation's owner is refused, signed or not.
    beta = await deployment_of(two, 2)
    wrong = {"project": "alpha", "operation_id": beta.operation_id, "event": "deploy.failed"}
    assert (await post(two, *signed(wrong, SECRETS["beta"], delivery="real-2")))[0] == 400
    assert (await deployment_of(two, 2)).state == beta.state


async def test_operation_ids_carry_a_part_nobody_can_derive(two):
    alpha, beta = await deployment_of(two, 1), await deployment_of(two, 2)
    predictable = "tower-alpha-1-v1.3.0-rc1-production-1"
    assert alpha.operation_id != predictable and alpha.operation_id.startswith("tower-alpha-1-")
    unguessable = [op.rsplit("-", 1)[1] for op in (alpha.operation_id, beta.operation_id)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", part) for part in unguessable)
    assert unguessable[0] != unguessable[1]


async def test_operation_ids_are_not_published_on_the_release_page(two):
    alpha = await deployment_of(two, 1)
    for path in ("/releases/alpha/1.3.0.json", "/releases/alpha/1.3.0"):
        response = await two.client.get(path)
        assert response.status == 200
        assert alpha.operation_id not in await response.text()


async def test_a_captured_callback_replayed_under_a_new_delivery_id_is_refused(two):
    alpha = await deployment_of(two, 1)
    event = {"operation_id": alpha.operation_id, "event": "deploy.running"}
    raw, headers = signed(event, SECRETS["alpha"], delivery="first")
    assert (await post(two, raw, headers))[0] == 200
    before = await snapshot(two.services.db)
    replay = {**headers, "X-Tower-Delivery": "second"}  # same body, timestamp and signature
    status, answer = await post(two, raw, replay)
    assert status == 401 and answer["error"] == "bad signature"
    assert await snapshot(two.services.db) == before


async def test_the_signature_covers_timestamp_delivery_and_body_exactly(two):
    alpha = await deployment_of(two, 1)
    raw = json.dumps({"operation_id": alpha.operation_id, "event": "deploy.running"}).encode()
    stamp = str(int(time.time()))
    old_scheme = (
        "sha256=" + hmac.new(SECRETS["alpha"].encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    )
    headers = {"X-Tower-Timestamp": stamp, "X-Tower-Delivery": "d", "X-Tower-Signature": old_scheme}
    assert (await post(two, raw, headers))[0] == 401
    headers["X-Tower-Signature"] = signature(SECRETS["alpha"], stamp, "d", raw)
    assert (await post(two, raw, headers))[0] == 200
