"""Production faults with two replicas on PostgreSQL: the scheduler leader killed outright in the
middle of an escalation; two conflicting commands at once through Slack and Discord."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_requests import post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.git_repos import build_repository
from tests.release_repos import released_then
from tests.replicas import ReplicaProcess, wait_for_one_leader
from tests.shell_process import tower_env
from tests.support import make_settings
from tests.test_paging_restart import GUILD, PEOPLE, SECRET, TEAM_SLACK, TOKEN, Deliveries, wait_until, write_config
from tests.toml_out import dumps


@pytest.fixture
async def fakes():
    discord_fake = FakeDiscord(members={d: h for h, (_, d) in PEOPLE.items()})
    await discord_fake.start()
    async with FakeSlack(bot_token=TOKEN) as slack_fake:
        yield slack_fake, discord_fake
    await discord_fake.stop()


def replica_env(tmp_path, db_target, slack_fake, discord_fake) -> dict[str, str]:
    return tower_env(
        tmp_path / "data",
        {
            "TOWER_TICK_SECONDS": "0.2",
            "TOWER_ELECTION_SECONDS": "0.5",
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack_fake.api_url,
            "DISCORD_TOKEN": discord_fake.token,
            "DISCORD_API_URL": discord_fake.api_url,
            "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            "DISCORD_GUILD_ID": GUILD,
            **db_target.env(),
        },
    )


async def slack_command(slack_fake, replica: ReplicaProcess, user: str, command: str, text: str) -> dict:
    url = slack_fake.new_response_url()
    body = slash_command_body(
        command=command, text=text, user_id=PEOPLE[user][0], channel_id=TEAM_SLACK, response_url=url
    )
    assert (await post_signed(f"{replica.url}/slack/events", SECRET, body))[0] == 200
    return (await slack_fake.wait_for_response(url))[0]


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_killing_the_scheduler_leader_mid_escalation_loses_and_repeats_no_step(tmp_path, db_target, fakes):
    slack_fake, discord_fake = fakes
    config = write_config(tmp_path)
    env = replica_env(tmp_path, db_target, slack_fake, discord_fake)
    replicas = [ReplicaProcess(name, tmp_path, env, config) for name in ("a", "b")]
    seen = Deliveries(slack_fake, discord_fake)
    try:
        for replica in replicas:
            await asyncio.to_thread(replica.wait_up)
        leader, _ = await asyncio.to_thread(wait_for_one_leader, replicas)
        (other,) = [r for r in replicas if r is not leader]
        await wait_until(lambda: discord_fake.commands.get(GUILD))
        # Commands reach whichever replica the load balancer picks.
        await slack_command(slack_fake, other, "alice", "/release", "new demo")
        assert "pilot bob" in (await slack_command(slack_fake, leader, "alice", "/rotation", "assign demo"))["text"]
        assert (await slack_command(slack_fake, other, "tobby", "/page", "demo the database is down"))[
            "text"
        ] == "Page #1 sent to bob (pilot of demo#1)."
        await wait_until(lambda: seen.reached("bob") == (1, 1))
        await wait_until(lambda: seen.reached("jane") == (1, 1))
        # and the team heard of both steps, so that the kill lands between steps
        await wait_until(
            lambda: len([m for m in slack_fake.messages.get(TEAM_SLACK, []) if "paging the" in m["text"]]) == 2
        )
        leader.kill()
        await wait_until(lambda: seen.reached("alice") == (1, 1), timeout=40)  # the survivor took over, and Discord
        await asyncio.sleep(0.05 * 60 * 2)  # two more escalation periods: nothing else may arrive
        assert {h: seen.reached(h) for h in ("bob", "jane", "alice", "tobby")} == {
            "bob": (1, 1),
            "jane": (1, 1),
            "alice": (1, 1),
            "tobby": (0, 0),
        }
        team = [m["text"] for m in slack_fake.messages.get(TEAM_SLACK, []) if "paging the" in m["text"]]
        assert len(team) == 4 and len(set(team)) == 4
        assert (await slack_command(slack_fake, other, "bob", "/ack", "1"))[
            "text"
        ] == "Acknowledged page #1 for demo#1; it stops escalating."
    finally:
        codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert codes.count(0) == 1, [r.errors() for r in replicas]


def cut_config(tmp_path) -> Path:
    data = make_settings(tmp_path / "data").model_dump(exclude={"source", "data_dir"})
    build_repository(tmp_path / "demo.git", released_then())
    data["projects"]["demo"].update(
        repository=str(tmp_path / "demo.git"),
        checklist=[],
        channels={"team": [f"slack:{TEAM_SLACK}"], "announce": [f"slack:{TEAM_SLACK}"]},
    )
    path = tmp_path / "tower.toml"
    path.write_text(dumps(data))
    return path


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_two_rc_cuts_at_once_from_slack_and_discord_make_one_candidate(tmp_path, db_target, fakes):
    slack_fake, discord_fake = fakes
    env = replica_env(tmp_path, db_target, slack_fake, discord_fake)
    config = cut_config(tmp_path)
    replicas = [ReplicaProcess(name, tmp_path, env, config) for name in ("a", "b")]
    try:
        for replica in replicas:
            await asyncio.to_thread(replica.wait_up)
        await wait_until(lambda: discord_fake.commands.get(GUILD))
        a, b = replicas
        for i, text in enumerate(["new demo", "name demo --yes"]):
            assert "demo" in (await slack_command(slack_fake, replicas[i % 2], "alice", "/release", text))["text"]
        await slack_command(slack_fake, a, "alice", "/rotation", "assign demo")
        await slack_command(slack_fake, b, "alice", "/scope", "freeze demo")

        from_discord = await discord_fake.send_interaction(
            user_id=PEOPLE["alice"][1], name="rc cut", options=[{"name": "release", "value": "demo"}]
        )
        from_slack = await slack_command(slack_fake, b, "alice", "/rc", "cut demo")
        await wait_until(lambda: from_discord.replies, timeout=30)
        answers = [from_slack["text"], from_discord.replies[-1]["embeds"][0]["description"]]
        cut = [t for t in answers if t.startswith("Cut ")]
        assert len(cut) == 1, answers
        (refusal,) = [t for t in answers if not t.startswith("Cut ")]
        print("refusal:", refusal)
        listing = json.dumps(await slack_command(slack_fake, a, "alice", "/rc", "list demo"))
        assert "v1.3.0-rc1" in listing and "rc2" not in listing and "2. " not in listing, listing
    finally:
        codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert codes == [0, 0], [r.errors() for r in replicas]
