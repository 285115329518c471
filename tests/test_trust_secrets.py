"""Secrets stay in Tower: a deploy command gets an allow-listed environment, and what Tower publishes
of a command's output (team messages, pages, the release page and JSON) is redacted of secret values
and of credentials in URLs."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web import build_web_app
from commands.rules.redaction import Redactor
from jobs.scheduler import Wakeups
from storage.queries import deploys, outbox, pages
from tests.deploy_support import ready_to_deploy, settle
from tests.support import run

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-very-secret-slack-token",
    "SLACK_SIGNING_SECRET": "signing-secret-0123456789",
    "GITHUB_TOKEN": "ghp_secretforgetoken0123456789",
    "TOWER_CI_SECRET": "callback-secret-abcdef",
    "TOWER_DATABASE_PASSWORD_FILE": "/run/secrets/db",
    "DEPLOY_SSH_KEY": "deploy-key-material-42",
}


def test_the_redactor_hides_secret_values_and_url_credentials():
    redact = Redactor(["hunter22-secret", "abc"])  # too short to hide safely: left alone
    text = (
        "connect postgresql://tower:p@ss@db.example/tower failed; "
        "GET https://deploy:hunter22-secret@api.example/x?password=pw1&token=t0k&user=ann; "
        "abc is fine"
    )
    out = redact(text)
    for secret in ("p@ss", "hunter22-secret", "pw1", "t0k"):
        assert secret not in out
    assert "postgresql://tower:[redacted]@db.example/tower" in out
    assert "https://deploy:[redacted]@api.example/x?password=[redacted]&token=[redacted]&user=ann" in out
    assert "abc is fine" in out


async def test_a_deploy_command_sees_an_allow_listed_environment(tmp_path, db_target, clock, monkeypatch):
    for name, value in SECRETS.items():  # `tower run` is given the process's whole environment
        monkeypatch.setenv(name, value)
    tower = await ready_to_deploy(
        tmp_path,
        db_target,
        clock,
        ci={"command": "env > seen.env", "pass_env": ["DEPLOY_SSH_KEY"]},
        env=SECRETS,
    )
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        seen = dict(
            line.split("=", 1)
            for line in (tower.settings.data_dir / "ci" / "demo" / "seen.env").read_text().splitlines()
        )
        assert seen["TOWER_TAG"] == "v1.3.0-rc1" and seen["TOWER_PROJECT"] == "demo" and "PATH" in seen
        assert seen["DEPLOY_SSH_KEY"] == SECRETS["DEPLOY_SSH_KEY"]  # named by the project: passed on
        for name in (
            "SLACK_BOT_TOKEN",
            "SLACK_SIGNING_SECRET",
            "GITHUB_TOKEN",
            "TOWER_CI_SECRET",
            "TOWER_DATABASE_URL",
        ):
            assert name not in seen
        assert not set(SECRETS.values()) - {SECRETS["DEPLOY_SSH_KEY"]} & set(seen.values())
    finally:
        await tower.close()


@pytest.fixture
async def leaky(tmp_path, db_target, clock):
    command = (
        'echo "pushing to https://deploy:$DEPLOY_SSH_KEY@registry.example/app?password=pw-9876&v=2"; '
        'echo "token $SLACK_BOT_TOKEN"; exit 4'
    )
    tower = await ready_to_deploy(
        tmp_path,
        db_target,
        clock,
        ci={"command": command, "pass_env": ["DEPLOY_SSH_KEY", "SLACK_BOT_TOKEN"]},
        env=SECRETS,
    )
    try:
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        yield tower
    finally:
        await tower.close()


async def test_a_failing_commands_output_is_published_redacted(leaky):
    async with leaky.services.db.read() as s:
        (deployment,) = await deploys.of_release(s, 1)
        (page,) = await pages.open_pages(s)
        told = [r.payload for r in await outbox.all_for(s, "console:team")]
        told += [r.payload for r in await outbox.all_for(s, "console-dm:bob")]
    async with TestClient(TestServer(build_web_app(leaky, Wakeups(leaky.services)))) as client:
        published = [await (await client.get(p)).text() for p in ("/releases/demo/1.3.0.json", "/releases/demo/1.3.0")]
    status = (await run(leaky, "/deploy status demo")).sections[0]
    everything = [deployment.failure or "", page.message, *told, *published, status]
    assert "registry.example" in deployment.failure  # the output is still there, minus its secrets
    for where in everything:
        for secret in (SECRETS["DEPLOY_SSH_KEY"], SECRETS["SLACK_BOT_TOKEN"], "pw-9876"):
            assert secret not in where, where
    assert "[redacted]" in json.loads(published[0])["deployments"][0]["failure"]
