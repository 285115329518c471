"""Three replicas rehearse a three-day simmer (a day every ten seconds), each reaching PostgreSQL
through a proxy of its own. After the first daily report the leader's proxy freezes: connections
open, nothing passes, so PostgreSQL keeps the leader's session and lock. A standby fences it off and
takes over, and every daily report still reaches Slack exactly once."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from tests.fakes.health import FakeHealth
from tests.fakes.slack_server import FakeSlack
from tests.fakes.tcp_proxy import OutageProxy
from tests.replicas import ReplicaProcess, wait_for_one_leader
from tests.shell_process import tower_env
from tests.test_replica_simmer import DAY_S, SECRET, START, TEAM, TOKEN, passed, reports, simmering_config, until


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_a_leader_cut_off_mid_simmer_delivers_every_daily_report_once(tmp_path, db_target, clock):
    async with FakeHealth(value=1000, step=10) as health, FakeSlack(bot_token=TOKEN) as slack:
        config = await simmering_config(tmp_path, db_target, clock, health)
        real = make_url(db_target.url)
        proxies = [OutageProxy(real.host or "127.0.0.1", real.port or 5432) for _ in range(3)]
        rehearsal = f"{(START + timedelta(minutes=1)).isoformat()} {time.time():.3f} {86400 / DAY_S}"
        async with proxies[0], proxies[1], proxies[2]:
            replicas = []
            for name, proxy in zip("abc", proxies, strict=True):
                env = {
                    **db_target.env(),
                    "TOWER_DATABASE_URL": real.set(port=proxy.port).render_as_string(hide_password=False),
                    "TOWER_REHEARSAL_CLOCK": rehearsal,
                    "TOWER_TICK_SECONDS": "0.2",
                    "TOWER_ELECTION_SECONDS": "0.5",
                    "SLACK_BOT_TOKEN": TOKEN,
                    "SLACK_SIGNING_SECRET": SECRET,
                    "SLACK_API_URL": slack.api_url,
                }
                replicas.append(ReplicaProcess(name, tmp_path, tower_env(tmp_path / "data", env), config))
            leader = None
            try:
                for replica in replicas:
                    await asyncio.to_thread(replica.wait_up)
                leader, _ = await asyncio.to_thread(wait_for_one_leader, replicas)
                await until(lambda: reports(slack), timeout=3 * DAY_S)  # Tuesday 09:00
                proxies[replicas.index(leader)].freeze()  # cut off, not dead
                others = [r for r in replicas if r is not leader]
                await asyncio.to_thread(wait_for_one_leader, others, 30)
                await until(lambda: passed(slack), timeout=5 * DAY_S)  # Thursday 10:00
                await asyncio.sleep(DAY_S * 0.3)  # a few more simulated hours: nothing else may come
                assert [r.split(":")[1].strip() for r in reports(slack)] == [
                    "day 1 of 3.",
                    "day 2 of 3.",
                    "day 3 of 3.",
                ]
                assert sum(m["text"].startswith("The simmer of") for m in slack.messages.get(TEAM, [])) == 1
            finally:
                if leader is not None:
                    leader.kill()  # it cannot say goodbye through the frozen proxy
                codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert sorted(codes) == [-9, 0, 0], [r.errors() for r in replicas]
