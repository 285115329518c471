"""The Slack adapter in Socket Mode end to end: Tower's real service connects out to a fake Slack
with the real slack_sdk Socket Mode client; envelopes in, acks and response_url posts out."""

import asyncio
import logging
import time

import aiohttp
import pytest

from bot.app import StartupError, open_tower
from bot.config import ChatEnvironment
from bot.service import Service
from storage.queries import audit
from tests.fakes.slack_socket import APP_TOKEN, FakeSlackWithSocketMode
from tests.platform_harness import (
    ALICE,
    BOB,
    SLACK_TOKEN,
    TEAM,
    block_texts,
    headline,
    platform_settings,
    start_service,
)


def socket_env(fake, db_target, app_token: str = APP_TOKEN) -> dict[str, str]:
    # No SLACK_SIGNING_SECRET: the app token alone selects Socket Mode.
    return {
        **db_target.env(),
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_APP_TOKEN": app_token,
        "SLACK_API_URL": fake.api_url.rstrip("/"),
    }


@pytest.fixture
async def fake():
    async with FakeSlackWithSocketMode(bot_token=SLACK_TOKEN) as f:
        yield f


@pytest.fixture
async def service(fake, tmp_path, db_target, clock, caplog):
    caplog.set_level(logging.INFO, logger="tower")
    service = await start_service(platform_settings(tmp_path / "data"), socket_env(fake, db_target), clock)
    try:
        yield service
    finally:
        await service.stop()


async def command(fake, text: str, *, user: str = ALICE, command: str = "/release") -> tuple[dict, float, str]:
    """A slash command over the socket: (the ack, seconds until it came, the response_url)."""
    url = fake.new_response_url()
    started = time.monotonic()
    ack = await fake.socket.send_slash_command(
        command=command, text=text, user_id=user, channel_id=TEAM, response_url=url
    )
    return ack, time.monotonic() - started, url


async def reply(fake, url: str) -> dict:
    (answer,) = await fake.wait_for_response(url)
    return answer


async def test_connects_with_the_app_token_and_reports_it(fake, service, caplog):
    (call,) = fake.calls_to("apps.connections.open")
    assert call.token == APP_TOKEN and call.response["ok"] is True
    conn = await fake.socket.wait_for_connection(1)
    assert conn.open and len(fake.socket.connections) == 1
    for _ in range(100):  # slack_sdk pings at once; an unanswered ping would make it reconnect
        if conn.pings:
            break
        await asyncio.sleep(0.02)
    assert conn.pings >= 1
    async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{service.port}/slack/events") as r:
        assert r.status == 404  # no signing secret: nothing unsigned may come in over HTTP
    # The service started in the fixture, so its lines were logged during setup.
    assert "Slack: Socket Mode connected" in [r.getMessage() for r in caplog.get_records("setup")]


async def test_a_slash_command_is_acked_within_3s_and_answered_at_the_response_url(fake, service):
    ack, took, url = await command(fake, "new demo")
    assert took < 3
    assert ack == {"envelope_id": fake.socket.sent[-1]["envelope_id"]}  # a plain ack: the answer goes to response_url
    answer = await reply(fake, url)
    assert answer["response_type"] == "in_channel" and headline(answer) == "Opened demo#1 (planning)."
    async with service.tower.services.db.read() as s:
        (entry,) = await audit.entries(s)
    assert (entry.actor, entry.platform, entry.channel, entry.command) == (
        "alice",
        "slack",
        f"slack:{TEAM}",
        "/release new demo",
    )
    _, _, url = await command(fake, "status demo", user=BOB)
    assert headline(await reply(fake, url)) == "demo#1: planning"


async def test_a_button_click_over_the_socket_runs_its_command(fake, service):
    _, _, url = await command(fake, "new demo")
    assert '"value": "/release status demo#1"' in block_texts(await reply(fake, url))
    url = fake.new_response_url()
    ack = await fake.socket.send_block_action(
        value="/release status demo#1", user_id=BOB, channel_id=TEAM, response_url=url
    )
    assert ack == {"envelope_id": fake.socket.sent[-1]["envelope_id"]}
    answer = await reply(fake, url)
    assert answer["response_type"] == "ephemeral" and headline(answer) == "demo#1: planning"


@pytest.mark.parametrize("reason", ["refresh_requested", None], ids=["disconnect message", "socket closed"])
async def test_the_client_reconnects_and_commands_still_work(fake, service, reason):
    await fake.socket.wait_for_connection(1)
    await fake.socket.disconnect(reason)
    second = await fake.socket.wait_for_connection(2)
    assert len(fake.calls_to("apps.connections.open")) == 2  # a fresh URL for each connection
    _, took, url = await command(fake, "new demo")
    assert took < 3 and fake.socket.open_connections == [second]
    assert headline(await reply(fake, url)) == "Opened demo#1 (planning)."
    assert second.received and not fake.socket.connections[0].open


async def test_stop_closes_the_socket_for_good(fake, tmp_path, db_target, clock):
    service = await start_service(platform_settings(tmp_path / "data"), socket_env(fake, db_target), clock)
    first = await fake.socket.wait_for_connection(1)
    await service.stop()
    assert not first.open  # the client's close handshake finished inside stop()
    await asyncio.sleep(0.3)  # room for a wrongful reconnect to show
    assert len(fake.socket.connections) == 1 and len(fake.calls_to("apps.connections.open")) == 1


@pytest.mark.parametrize("app_token", ["xapp-1-not-this-app", SLACK_TOKEN], ids=["wrong app token", "bot token"])
async def test_a_refused_app_token_stops_startup_with_advice(fake, tmp_path, db_target, clock, app_token):
    settings, env = platform_settings(tmp_path / "data"), socket_env(fake, db_target, app_token)
    service = Service(await open_tower(settings, env, clock=clock), ChatEnvironment.read(env, settings))
    try:
        with pytest.raises(StartupError, match="SLACK_APP_TOKEN"):
            async with asyncio.timeout(2):  # a fixed Tower answers in milliseconds
                await service.start()
    finally:
        await service.stop()
    assert fake.calls_to("apps.connections.open")[0].response["error"] in ("invalid_auth", "not_allowed_token_type")
