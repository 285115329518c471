"""A scheduler leader cut off from PostgreSQL without dying: a proxy holds its connections open and
passes nothing (no reset, no answer), so PostgreSQL keeps its session and its lock. The leader
steps down, a standby fences it off and takes over within the stated bound, and the escalation
it was running loses and repeats no step."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy.engine import make_url

from storage.queries.leadership import stale_after
from tests.fakes.slack_server import FakeSlack
from tests.fakes.tcp_proxy import OutageProxy
from tests.replicas import ReplicaProcess, wait_for_one_leader
from tests.shell_process import tower_env
from tests.test_paging_restart import PEOPLE, SECRET, TEAM_SLACK, TOKEN, wait_until, write_config
from tests.test_replica_faults import slack_command

ELECTION_S = 0.5
ESCALATE_S = 3.0  # escalate_after_minutes = 0.05


def dms(slack: FakeSlack, handle: str) -> list[str]:
    opened = [c.response for c in slack.calls_to("conversations.open") if c.params.get("users") == PEOPLE[handle][0]]
    channel = next((r["channel"]["id"] for r in opened if r), None)
    return [m["text"] for m in slack.messages.get(channel, [])] if channel else []


def team_steps(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.messages.get(TEAM_SLACK, []) if "paging the" in m["text"]]


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_a_leader_cut_off_without_dying_is_replaced_and_no_page_step_is_lost_or_doubled(tmp_path, db_target):
    config = write_config(tmp_path)  # Discord's messages wait in the outbox: no replica has a gateway here
    real = make_url(db_target.url)
    proxies = [OutageProxy(real.host or "127.0.0.1", real.port or 5432) for _ in range(3)]
    async with FakeSlack(bot_token=TOKEN) as slack, proxies[0], proxies[1], proxies[2]:
        replicas = []
        for name, proxy in zip("abc", proxies, strict=True):  # each replica reaches the database its own way
            url = real.set(port=proxy.port).render_as_string(hide_password=False)
            env = {"TOWER_ELECTION_SECONDS": str(ELECTION_S), "TOWER_TICK_SECONDS": "0.2", **db_target.env()}
            env.update(TOWER_DATABASE_URL=url, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET)
            env["SLACK_API_URL"] = slack.api_url
            replicas.append(ReplicaProcess(name, tmp_path, tower_env(tmp_path / "data", env), config))
        try:
            for replica in replicas:
                await asyncio.to_thread(replica.wait_up)
            leader, _ = await asyncio.to_thread(wait_for_one_leader, replicas)
            others = [r for r in replicas if r is not leader]
            await slack_command(slack, others[0], "alice", "/release", "new demo")
            await slack_command(slack, others[1], "alice", "/rotation", "assign demo")
            page = await slack_command(slack, others[0], "tobby", "/page", "demo the database is down")
            assert page["text"] == "Page #1 sent to bob (pilot of demo#1)."

            proxies[replicas.index(leader)].freeze()  # open, silent: PostgreSQL keeps its session and lock
            cut_at = time.monotonic()
            successor, _ = await asyncio.to_thread(wait_for_one_leader, others, 30)
            took = time.monotonic() - cut_at
            bound = stale_after(ELECTION_S) + 2 * ELECTION_S + 3.0  # the fencing delay, a ballot, a busy machine
            assert took < bound, f"took {took:.1f}s over a bound of {bound:.1f}s"
            assert await asyncio.to_thread(successor.metric, "tower_scheduler_no_leader") == 0

            # The escalation goes on from the new leader: jane, then alice; each step once.
            await wait_until(lambda: dms(slack, "alice"), timeout=30)
            await wait_until(lambda: len(team_steps(slack)) >= 4, timeout=15)
            await asyncio.sleep(ESCALATE_S * 1.2)  # another escalation period: nothing else may come
            assert {h: len(dms(slack, h)) for h in PEOPLE} == {"bob": 1, "jane": 1, "alice": 1, "tobby": 0}
            steps = team_steps(slack)
            assert len(steps) == 4 and len(set(steps)) == 4, steps
            assert "no longer holds the scheduler role: can't confirm the lock" in leader.errors()
        finally:
            leader.kill()  # it cannot say goodbye through the frozen proxy
            codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert sorted(codes) == [-9, 0, 0], [r.errors() for r in replicas]
