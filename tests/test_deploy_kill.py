"""`tower run` killed outright during `/deploy start`, after the CI accepted the request but before
Tower heard back: the restarted Tower asks the CI again under the same idempotency key, so the CI
runs one pipeline, and the deployment carries on."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from storage.database import Database
from storage.queries import deploys
from tests.deploy_support import ready_to_deploy
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.fakes.slack_requests import post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.replicas import ReplicaProcess
from tests.shell_process import tower_env
from tests.toml_out import dumps

START = datetime(2026, 11, 2, 10, tzinfo=UTC)
TEAM, TOKEN, SECRET, CI_SECRET = "C0TEAM00001", "xoxb-test-token", "test-signing-secret", "ci-secret"


async def until(check, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("db_target", ["postgresql", "sqlite"], indirect=True)
async def test_a_kill_after_the_ci_accepted_leaves_one_pipeline(tmp_path, db_target, clock):
    async with FakeCIWebhook(secret=CI_SECRET) as ci, FakeSlack(bot_token=TOKEN) as slack:
        clock.set(START)
        tower = await ready_to_deploy(
            tmp_path,
            db_target,
            clock,
            channels={"team": [f"slack:{TEAM}"], "announce": []},
            ci={"provider": "webhook", "url": ci.url, "secret_env": "CI_SECRET", "timeout_seconds": 20},
        )
        config = tmp_path / "tower.toml"
        config.write_text(dumps(tower.settings.model_dump(exclude={"source", "data_dir"})))
        await tower.close()
        # A rehearsal clock ten times as fast: the half-minute before an unanswered request is
        # looked into again passes in seconds.
        env = tower_env(
            tmp_path / "data",
            {
                **db_target.env(),
                "TOWER_REHEARSAL_CLOCK": f"{START.isoformat()} {time.time():.3f} 10",
                "TOWER_TICK_SECONDS": "0.2",
                "CI_SECRET": CI_SECRET,
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
            },
        )

        first = ReplicaProcess("first", tmp_path, env, config)
        await asyncio.to_thread(first.wait_up)
        ci.timeout_next(delay=60)  # the run starts; the answer never comes back in time
        body = slash_command_body(
            command="/deploy",
            text="start demo",
            user_id="U0DEMOALICE",
            channel_id=TEAM,
            response_url=slack.new_response_url(),
        )
        assert (await post_signed(f"{first.url}/slack/events", SECRET, body))[0] == 200

        async def accepted() -> bool:
            return ci.started == 1

        await until(accepted, timeout=20)
        first.kill()

        second = ReplicaProcess("second", tmp_path, env, config)
        db = Database(db_target.url, schema=db_target.schema)
        try:
            await asyncio.to_thread(second.wait_up)

            async def running() -> bool:
                async with db.read() as s:
                    found = await deploys.of_release(s, 1)
                return bool(found) and found[0].state == "running"

            await until(running, timeout=30)
            keys = {r.headers.get("Idempotency-Key") for r in ci.received}
            assert ci.started == 1 and len(ci.received) >= 2 and len(keys) == 1  # asked again, same key
            async with db.read() as s:
                assert len(await deploys.of_release(s, 1)) == 1
        finally:
            await db.close()
            assert await asyncio.to_thread(second.stop) == 0, second.errors()
