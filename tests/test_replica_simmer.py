"""Two replicas on PostgreSQL rehearse a three-day simmer in half a minute (a shared rehearsal
clock, a day every ten seconds). The scheduler leader is killed outright just after posting the
first daily report; the other replica takes over: every daily report reaches Slack exactly once,
and the simmer passes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.deploy_support import ready_to_deploy, settle
from tests.fakes.health import FakeHealth
from tests.fakes.slack_server import FakeSlack
from tests.replicas import ReplicaProcess, wait_for_one_leader
from tests.shell_process import tower_env
from tests.simmer_support import hourly_probe
from tests.support import run
from tests.toml_out import dumps

START = datetime(2026, 11, 2, 10, tzinfo=UTC)  # a Monday; reports at 09:00 UTC from Tuesday
TEAM, TOKEN, SECRET = "C0TEAM00001", "xoxb-test-token", "test-signing-secret"
DAY_S = 10.0  # real seconds per simulated day


def reports(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.messages.get(TEAM, []) if m["text"].startswith("Simmer report for")]


def passed(slack: FakeSlack) -> bool:
    return any(m["text"].startswith("The simmer of demo 1.3.0 passed") for m in slack.messages.get(TEAM, []))


async def until(check, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def simmering_config(tmp_path, db_target, clock, health: FakeHealth) -> Path:
    """A release of demo deployed Monday 10:00 and simmering three days, probed hourly: its config file."""
    clock.set(START)
    tower = await ready_to_deploy(
        tmp_path,
        db_target,
        clock,
        timezone="UTC",
        report_time="09:00",
        simmer_days=3,
        probe=hourly_probe(health.url),
        channels={"team": [f"slack:{TEAM}"], "announce": []},
    )
    assert (await run(tower, "/deploy start demo")).ok
    await settle(tower)
    config = tmp_path / "tower.toml"
    config.write_text(dumps(tower.settings.model_dump(exclude={"source", "data_dir"})))
    await tower.close()
    return config


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_killing_the_leader_mid_simmer_delivers_every_daily_report_once(tmp_path, db_target, clock):
    async with FakeHealth(value=1000, step=10) as health, FakeSlack(bot_token=TOKEN) as slack:
        config = await simmering_config(tmp_path, db_target, clock, health)
        rehearsal = f"{(START + timedelta(minutes=1)).isoformat()} {time.time():.3f} {86400 / DAY_S}"
        env = tower_env(
            tmp_path / "data",
            {
                **db_target.env(),
                "TOWER_REHEARSAL_CLOCK": rehearsal,
                "TOWER_TICK_SECONDS": "0.2",
                "TOWER_ELECTION_SECONDS": "0.5",
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
            },
        )
        replicas = [ReplicaProcess(name, tmp_path, env, config) for name in ("a", "b")]
        try:
            for replica in replicas:
                await asyncio.to_thread(replica.wait_up)
            leader, _ = await asyncio.to_thread(wait_for_one_leader, replicas)
            await until(lambda: reports(slack), timeout=3 * DAY_S)  # Tuesday 09:00
            leader.kill()  # the report is out; whatever else it was doing stays half-done
            (survivor,) = [r for r in replicas if r is not leader]
            await until(lambda: passed(slack), timeout=4 * DAY_S)  # Thursday 10:00
            await asyncio.sleep(DAY_S * 0.3)  # a few more simulated hours: nothing else may come
            # Tuesday's, Wednesday's and Thursday's (09:00, before it passes at 10:00), once each.
            assert [r.split(":")[1].strip() for r in reports(slack)] == ["day 1 of 3.", "day 2 of 3.", "day 3 of 3."]
            assert (
                sum(
                    passed_note.startswith("The simmer of")
                    for passed_note in [m["text"] for m in slack.messages.get(TEAM, [])]
                )
                == 1
            )
            assert survivor.health()["scheduler"] == "running"
            assert health.reads >= 40  # it kept sampling hourly after the takeover
        finally:
            codes = [await asyncio.to_thread(r.stop) for r in replicas]
        assert sorted(codes) == [-9, 0], [r.errors() for r in replicas]
