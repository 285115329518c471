"""`tower run` as a real process with both chat adapters, configured only through the environment
(SLACK_API_URL, DISCORD_API_URL, DISCORD_GATEWAY_URL, DISCORD_GUILD_ID) — against local fakes."""

import asyncio
import signal
import subprocess

from commands.catalog import build_registry
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_requests import post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.shell_process import run_tower, tower_command, tower_env
from tests.test_run import free_port

SECRET, TOKEN = "test-signing-secret", "xoxb-test-token"
GUILD, APP, ALICE_D = "800000000000000001", "900000000000000001", "100000000000000001"


async def _wait_log(proc, needle: str, seen: list[str], timeout: float = 30) -> None:
    async def read():
        while True:
            line = await asyncio.to_thread(proc.stderr.readline)
            if not line:
                raise AssertionError(f"tower run ended before logging {needle!r}:\n" + "".join(seen))
            seen.append(line)
            if needle in line:
                return

    await asyncio.wait_for(read(), timeout)


async def test_tower_run_serves_slack_and_discord_and_stops_cleanly(tmp_path):
    discord_fake = FakeDiscord(members={ALICE_D: "alice"})
    await discord_fake.start()
    async with FakeSlack(bot_token=TOKEN) as slack_fake:
        port = free_port()
        env = tower_env(
            tmp_path / "data",
            {
                "TOWER_HTTP_PORT": str(port),
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack_fake.api_url,
                "DISCORD_TOKEN": discord_fake.token,
                "DISCORD_API_URL": discord_fake.api_url,
                "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
                "DISCORD_GUILD_ID": GUILD,
            },
        )
        proc = subprocess.Popen([*tower_command(), "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        seen: list[str] = []
        try:
            await _wait_log(proc, "Discord: connected as", seen)
            log = "".join(seen)
            assert "Slack: HTTP mode, requests at /slack/events" in log
            assert f"commands synced to {GUILD}" in log
            assert TOKEN not in log and SECRET not in log and discord_fake.token not in log

            url = slack_fake.new_response_url()
            body = slash_command_body(
                command="/release", text="new demo", user_id="U0DEMOALICE", channel_id="C0TEAM00001", response_url=url
            )
            status, _, _ = await post_signed(f"http://127.0.0.1:{port}/slack/events", SECRET, body)
            assert status == 200
            (answer,) = await slack_fake.wait_for_response(url)
            assert answer["text"] == "Opened demo#1 (planning)."

            interaction = await discord_fake.send_interaction(
                user_id=ALICE_D, name="release status", options=[{"name": "release", "value": "demo"}]
            )
            await discord_fake.wait_until(lambda: interaction.edits)
            assert interaction.replies[-1]["embeds"][0]["description"].startswith("demo#1: planning")
        finally:
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.to_thread(proc.communicate, timeout=30)
            await discord_fake.stop()
    assert proc.returncode == 0, "".join(seen) + rest[1]
    assert "stopped" in rest[1] and "Traceback" not in "".join(seen) + rest[1]


def test_slack_manifest_lists_every_command_group_and_the_events_url(tmp_path):
    import json

    result = run_tower(["slack-manifest", "--url", "https://tower.example.org/"], tmp_path, tower_env(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    commands = {c["command"]: c for c in manifest["features"]["slash_commands"]}
    registry = build_registry()
    top_level = {f"/{s.name}" for s in registry.top_level() if s.name != "help"}  # /help is Slack's own
    assert set(commands) == {*(f"/{g}" for g in registry.groups()), *top_level, "/tower"}
    assert commands["/release"]["url"] == "https://tower.example.org/slack/events"
    assert "abort RELEASE --reason REASON" in commands["/release"]["usage_hint"]
    assert manifest["settings"]["interactivity"]["request_url"] == "https://tower.example.org/slack/events"
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]


async def test_discord_sync_registers_the_commands_and_exits(tmp_path):
    discord_fake = FakeDiscord()
    await discord_fake.start()
    try:
        env = tower_env(
            tmp_path / "data",
            {"DISCORD_TOKEN": discord_fake.token, "DISCORD_API_URL": discord_fake.api_url, "DISCORD_GUILD_ID": GUILD},
        )
        result = await asyncio.to_thread(run_tower, ["discord-sync"], tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert f"in {GUILD}" in result.stdout or GUILD in result.stdout
        put = await discord_fake.wait_for_call("PUT", rf"/applications/{APP}/guilds/{GUILD}/commands")
        registry = build_registry()
        assert {c["name"] for c in put.json} == {*registry.groups(), *(s.name for s in registry.top_level())}
        assert discord_fake.identifies == 0  # REST only, no gateway
    finally:
        await discord_fake.stop()


def test_discord_sync_without_a_token_says_so(tmp_path):
    result = run_tower(["discord-sync"], tmp_path, tower_env(tmp_path / "d"))
    assert result.returncode == 2 and "DISCORD_TOKEN is not set" in result.stderr


async def test_a_wrong_discord_token_stops_start_up_with_advice(tmp_path):
    discord_fake = FakeDiscord()
    await discord_fake.start()
    try:
        env = tower_env(
            tmp_path / "data",
            {
                "TOWER_HTTP_PORT": str(free_port()),
                "DISCORD_TOKEN": "not-the-token",
                "DISCORD_API_URL": discord_fake.api_url,
                "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
            },
        )
        result = await asyncio.to_thread(run_tower, ["run"], tmp_path, env)
    finally:
        await discord_fake.stop()
    assert result.returncode == 2
    assert "Discord refused DISCORD_TOKEN" in result.stderr and "not-the-token" not in result.stderr


async def test_sigterm_during_a_hanging_start_up_stops_tower(tmp_path):
    """A gateway that accepts the connection and never answers: start-up hangs, SIGTERM ends it."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    discord_fake = FakeDiscord()
    await discord_fake.start()
    try:
        port = silent.sockets[0].getsockname()[1]
        env = tower_env(
            tmp_path / "data",
            {
                "TOWER_HTTP_PORT": str(free_port()),
                "DISCORD_TOKEN": discord_fake.token,
                "DISCORD_API_URL": discord_fake.api_url,
                "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/",
            },
        )
        proc = subprocess.Popen([*tower_command(), "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
        await discord_fake.wait_for_call("GET", "/oauth2/applications/@me")  # logged in, now stuck on the gateway
        await asyncio.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, timeout=20)
    finally:
        silent.close()
        await discord_fake.stop()
    assert proc.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err
