"""Kill Tower mid-escalation and start it again: every step reaches Slack and Discord exactly once."""

import asyncio
import signal
import sqlite3
import subprocess
from contextlib import closing

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_requests import post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.shell_process import tower_command, tower_env
from tests.test_run import free_port

SECRET, TOKEN = "test-signing-secret", "xoxb-test-token"
TEAM_SLACK, TEAM_DISCORD, GUILD = "C0TEAM00001", "700000000000000001", "800000000000000001"
PEOPLE = {
    "alice": ("U0DEMOALICE", "100000000000000001"),
    "bob": ("U0DEMOBOB", "100000000000000002"),
    "jane": ("U0DEMOJANE", "100000000000000003"),
    "tobby": ("U0DEMOTOBBY", "100000000000000004"),
}

CONFIG = """
[team]
release_managers = ["alice"]
{people}
[projects.demo]
repository = "/nonexistent"
roster = ["bob", "jane", "tobby"]
channels = {{ team = ["slack:{slack}", "discord:{discord}"] }}
[projects.demo.paging]
escalate_after_minutes = 0.05
repeat = false
"""


def team_steps_recorded_sent(data_dir) -> int:
    """The team channel's paging posts the outbox records as sent (read from another process)."""
    with closing(sqlite3.connect(data_dir / "tower.db")) as db:
        query = "SELECT count(*) FROM outbound_message WHERE channel = ? AND state = 'sent' AND payload LIKE ?"
        return db.execute(query, (f"slack:{TEAM_SLACK}", "%paging the%")).fetchone()[0]


def write_config(tmp_path):
    people = "".join(f'[people.{h}]\nslack = "{s}"\ndiscord = "{d}"\n' for h, (s, d) in PEOPLE.items())
    path = tmp_path / "tower.toml"
    path.write_text(CONFIG.format(people=people, slack=TEAM_SLACK, discord=TEAM_DISCORD))
    return path


class Deliveries:
    """What reached people directly, per platform, read off the fakes."""

    def __init__(self, slack: FakeSlack, discord: FakeDiscord):
        self.slack, self.discord = slack, discord

    def slack_dms(self, handle: str) -> list[str]:
        user = PEOPLE[handle][0]
        dm = next(
            (
                c.response["channel"]["id"]
                for c in self.slack.calls_to("conversations.open")
                if c.params.get("users") == user and c.response
            ),
            None,
        )
        return [m["text"] for m in self.slack.messages.get(dm, [])] if dm else []

    def discord_dms(self, handle: str) -> list[str]:
        channel = self.discord.dm_channels.get(PEOPLE[handle][1])
        return [m["embeds"][0]["description"] for m in self.discord.messages.get(channel["id"], [])] if channel else []

    def reached(self, handle: str) -> tuple[int, int]:
        return len(self.slack_dms(handle)), len(self.discord_dms(handle))


async def wait_until(check, timeout=30.0):
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


def start(tmp_path, config, env):
    return subprocess.Popen(
        [*tower_command(), "--config", str(config), "run"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_a_restart_mid_escalation_delivers_each_step_once(tmp_path):
    config = write_config(tmp_path)
    discord_fake = FakeDiscord(members={d: h for h, (_, d) in PEOPLE.items()})
    await discord_fake.start()
    async with FakeSlack(bot_token=TOKEN) as slack_fake:
        port = free_port()
        env = tower_env(
            tmp_path / "data",
            {
                "TOWER_HTTP_PORT": str(port),
                "TOWER_TICK_SECONDS": "0.2",
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack_fake.api_url,
                "DISCORD_TOKEN": discord_fake.token,
                "DISCORD_API_URL": discord_fake.api_url,
                "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
                "DISCORD_GUILD_ID": GUILD,
            },
        )
        seen = Deliveries(slack_fake, discord_fake)

        async def slack(user, command, text):
            url = slack_fake.new_response_url()
            body = slash_command_body(
                command=command, text=text, user_id=PEOPLE[user][0], channel_id=TEAM_SLACK, response_url=url
            )
            assert (await post_signed(f"http://127.0.0.1:{port}/slack/events", SECRET, body))[0] == 200
            return (await slack_fake.wait_for_response(url))[0]

        first = start(tmp_path, config, env)
        try:
            await wait_until(lambda: discord_fake.commands.get(GUILD))
            await slack("alice", "/release", "new demo")
            assert "pilot bob, co-pilot jane" in (await slack("alice", "/rotation", "assign demo"))["text"]
            assert (await slack("tobby", "/page", "demo the database is down"))[
                "text"
            ] == "Page #1 sent to bob (pilot of demo#1)."
            await wait_until(lambda: seen.reached("bob") == (1, 1))
            await wait_until(lambda: seen.reached("jane") == (1, 1))
            # and the team heard of both steps: a post cut off mid-send would wait out its two-minute
            # lease before the next Tower may look it up and send it (the courier tests cover that)
            await wait_until(
                lambda: len([m for m in slack_fake.messages.get(TEAM_SLACK, []) if "paging the" in m["text"]]) == 2
            )
            # and recorded as sent: killed between Slack's answer and that record, a post is looked up
            # only once its lease has run out, two minutes on
            await wait_until(lambda: team_steps_recorded_sent(tmp_path / "data") == 2)
        finally:
            first.send_signal(signal.SIGKILL)  # no goodbye: whatever was in flight stays in flight
            first.wait(timeout=10)
        second = start(tmp_path, config, env)
        try:
            await wait_until(lambda: seen.reached("alice") == (1, 1))  # previous pilot: nobody; then the managers
            await asyncio.sleep(0.05 * 60 * 2)  # two more escalation periods: nothing else may arrive
            assert {h: seen.reached(h) for h in ("bob", "jane", "alice", "tobby")} == {
                "bob": (1, 1),
                "jane": (1, 1),
                "alice": (1, 1),
                "tobby": (0, 0),
            }
            assert seen.slack_dms("jane")[0].startswith(
                f"<@{PEOPLE['jane'][0]}> Page #1 for demo#1: the database is down"
            )
            team = [m["text"] for m in slack_fake.messages.get(TEAM_SLACK, []) if "paging the" in m["text"]]
            assert len(team) == 4 and len(set(team)) == 4  # pilot, co-pilot, previous pilot, managers: each once
            ack = await slack("bob", "/ack", "1")
            assert ack["text"] == "Acknowledged page #1 for demo#1; it stops escalating."
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.to_thread(second.communicate, timeout=30)
            await discord_fake.stop()
    assert second.returncode == 0, err
