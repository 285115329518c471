"""The fake Discord against the real discord.py client (no Tower code): if these pass, a Tower test that
drives Discord through the fake exercises the same protocol discord.py speaks to Discord."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import discord
import pytest
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.fakes.discord_server import FakeDiscord

APP = "900000000000000001"
GUILD = "800000000000000001"
CHANNEL = "700000000000000001"
ALICE = "600000000000000001"
TIMEOUT = 10


async def within(awaitable, timeout: float = TIMEOUT):
    return await asyncio.wait_for(awaitable, timeout)


async def release_status(fake: FakeDiscord, release: str):
    options = [{"name": "release", "value": release}]
    return await fake.send_interaction(user_id=ALICE, name="release status", options=options)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(members={ALICE: "alice"})
    await server.start()
    # This is how Tower points discord.py at the fake; both are process-wide, so put them back.
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = server.api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(server.gateway_url)
    try:
        yield server
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = old_base, old_gateway
        await server.stop()


@dataclass
class Bot:
    client: discord.Client
    tree: app_commands.CommandTree
    ran: asyncio.Queue = field(default_factory=asyncio.Queue)  # what the callbacks saw, in order


def make_bot() -> Bot:
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before on_ready (2 s default).
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    tree = app_commands.CommandTree(client)
    bot = Bot(client, tree)
    release = app_commands.Group(name="release", description="Release commands")

    @release.command(name="status", description="Show a release")
    @app_commands.describe(release="Release name or version")
    async def status(interaction: discord.Interaction, release: str) -> None:
        await interaction.response.defer()
        await interaction.followup.send(f"status of {release}")
        bot.ran.put_nowait(("status", release, interaction.user.id))

    @status.autocomplete("release")
    async def complete(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        bot.ran.put_nowait(("autocomplete", current))
        return [app_commands.Choice(name=v, value=v) for v in ("1.2.0", "1.3.0", "2.0.0") if v.startswith(current)]

    tree.add_command(release, guild=discord.Object(int(GUILD)))

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        custom_id = (interaction.data or {}).get("custom_id", "")
        if interaction.type is discord.InteractionType.component and custom_id.startswith("approve:"):
            bot.ran.put_nowait(("component", custom_id))
            await interaction.response.edit_message(content="approved")

    return bot


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    harness = make_bot()
    await within(harness.client.login(fake.token))
    task = asyncio.create_task(harness.client.connect())
    try:
        await within(harness.client.wait_until_ready())
        await within(harness.tree.sync(guild=discord.Object(int(GUILD))))
        yield harness
    finally:
        await within(harness.client.close())
        await within(asyncio.gather(task, return_exceptions=True))


async def test_login_and_identify_use_the_fake(fake: FakeDiscord, bot: Bot) -> None:
    assert bot.client.user.id == int(APP)
    assert bot.client.application_id == int(APP)
    guild = bot.client.get_guild(int(GUILD))
    assert guild is not None and not guild.unavailable
    assert guild.get_channel(int(CHANNEL)).name == "releases"
    assert {m.name for m in guild.members} >= {"tower"}
    assert fake.identifies == 1 and fake.resumes == 0
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    query = fake.gateway_queries[0]
    assert query["v"] == "10" and query["encoding"] == "json" and query["compress"] in ("zstd-stream", "zlib-stream")
    me = next(c for c in fake.calls if c.path == "/users/@me")
    assert me.headers["Authorization"] == f"Bot {fake.token}"
    assert not fake.unhandled_calls


async def test_sync_puts_the_guild_commands(fake: FakeDiscord, bot: Bot) -> None:
    put = await fake.wait_for_call("PUT", rf"/applications/{APP}/guilds/{GUILD}/commands")
    [command] = put.json
    assert command["name"] == "release" and command["type"] == 1
    [sub] = command["options"]
    assert (sub["type"], sub["name"]) == (1, "status")
    [opt] = sub["options"]
    assert (opt["type"], opt["name"], opt["required"], opt["autocomplete"]) == (3, "release", True, True)
    first_id = fake.commands[GUILD][0]["id"]
    again = await within(bot.tree.sync(guild=discord.Object(int(GUILD))))
    assert again[0].id == int(first_id)  # bulk overwrite keeps the id of an unchanged command
    assert again[0].guild_id == int(GUILD)


async def test_command_defer_and_followup(fake: FakeDiscord, bot: Bot) -> None:
    start = len(fake.calls)
    sent = await release_status(fake, "1.2.0")
    assert await within(bot.ran.get()) == ("status", "1.2.0", int(ALICE))
    callback = await fake.wait_for_call("POST", rf"/interactions/{sent.id}/{sent.token}/callback", after=start)
    assert callback.json == {"type": 5} and callback.query == {"with_response": "1"}
    assert "Authorization" not in callback.headers  # interaction endpoints are keyed by the token alone
    followup = await fake.wait_for_call("POST", rf"/webhooks/{APP}/{sent.token}", after=start)
    assert followup.query["wait"] == "1" and followup.json["content"] == "status of 1.2.0"
    assert sent.response_type == 5
    [message] = sent.followups
    # Discord: the first follow-up after a thinking defer replaces the "thinking…" message.
    assert message["id"] == sent.original["id"] and message["content"] == "status of 1.2.0"
    assert not message["flags"] & 128


async def test_rate_limited_followup_is_retried_after_retry_after(fake: FakeDiscord, bot: Bot) -> None:
    fake.rate_limit_next("POST", rf"/webhooks/{APP}/.+", retry_after=0.4)
    start = len(fake.calls)
    sent = await release_status(fake, "2.0.0")
    assert (await within(bot.ran.get()))[:2] == ("status", "2.0.0")
    posts = [c for c in fake.calls[start:] if c.method == "POST" and c.path.startswith("/webhooks/")]
    assert [c.status for c in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 0.4
    assert len(sent.followups) == 1


@pytest.mark.parametrize("abort", [False, True], ids=["close-4000", "tcp-abort"])
async def test_dropped_connection_resumes_and_replays(fake: FakeDiscord, bot: Bot, abort: bool) -> None:
    await fake.drop_connection(abort=abort)
    # Dispatched while the client is away: Discord keeps it for the session and replays it on RESUME.
    sent = await release_status(fake, "1.3.0")
    await within(fake.wait_ready())
    assert (await within(bot.ran.get()))[:2] == ("status", "1.3.0")
    await fake.wait_until(lambda: sent.followups)
    assert (fake.identifies, fake.resumes) == (1, 1)
    resume = next(op for op in fake.received_ops if op["op"] == 6)
    assert resume["d"]["session_id"] == fake.session_id and resume["d"]["seq"] < fake.seq
    # A later interaction arrives on the resumed connection too.
    await release_status(fake, "1.2.0")
    assert (await within(bot.ran.get()))[:2] == ("status", "1.2.0")


async def test_invalid_session_makes_the_client_identify_again(fake: FakeDiscord, bot: Bot) -> None:
    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py sleeps 5 s before every non-initial IDENTIFY (identify rate limit)

    bot.client.before_identify_hook = no_identify_delay
    await fake.invalidate_session()
    await fake.wait_until(lambda: fake.identifies == 2)
    await within(fake.wait_ready())
    await release_status(fake, "1.2.0")
    assert (await within(bot.ran.get()))[:2] == ("status", "1.2.0")


async def test_autocomplete_choices_are_recorded(fake: FakeDiscord, bot: Bot) -> None:
    sent = await fake.send_interaction(
        user_id=ALICE, name="release status", kind=4, options=[{"name": "release", "value": "1.", "focused": True}]
    )
    assert await within(bot.ran.get()) == ("autocomplete", "1.")
    choices = await fake.wait_until(lambda: sent.choices)
    assert choices == [{"name": "1.2.0", "value": "1.2.0"}, {"name": "1.3.0", "value": "1.3.0"}]
    assert sent.response_type == 8


async def test_component_interaction_reaches_on_interaction(fake: FakeDiscord, bot: Bot) -> None:
    sent = await fake.send_interaction(user_id=ALICE, kind=3, custom_id="approve:42")
    assert await within(bot.ran.get()) == ("component", "approve:42")
    await fake.wait_until(lambda: sent.callbacks)
    assert sent.response_type == 7 and sent.original["content"] == "approved"


async def test_button_on_a_sent_message_reaches_its_view(fake: FakeDiscord, bot: Bot) -> None:
    class Deploy(discord.ui.View):
        @discord.ui.button(label="Deploy", custom_id="deploy:ok")
        async def deploy(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            bot.ran.put_nowait(("view", interaction.message.id))
            await interaction.response.edit_message(content="deploying", view=None)

    sent = await within(bot.client.get_channel(int(CHANNEL)).send("deploy 1.2.0?", view=Deploy()))
    clicked = await fake.send_interaction(user_id=ALICE, kind=3, custom_id="deploy:ok")
    assert await within(bot.ran.get()) == ("view", sent.id)  # the fake clicked the button on that message
    await fake.wait_until(lambda: clicked.callbacks)
    assert fake.messages[CHANNEL][0]["content"] == "deploying" and fake.messages[CHANNEL][0]["components"] == []


async def test_channel_messages_honour_the_nonce(fake: FakeDiscord, bot: Bot) -> None:
    channel = bot.client.get_channel(int(CHANNEL))
    first = await within(channel.send("deploying 1.2.0", nonce=4242))
    again = await within(channel.send("deploying 1.2.0", nonce=4242))
    assert first.id == again.id and len(fake.messages[CHANNEL]) == 1
    edited = await within(first.edit(content="deployed 1.2.0"))
    assert edited.content == fake.messages[CHANNEL][0]["content"] == "deployed 1.2.0"
    dm = await within(bot.client.create_dm(discord.Object(int(ALICE))))
    await within(dm.send("your release shipped"))
    assert fake.messages[str(dm.id)][0]["content"] == "your release shipped"


async def test_discord_refusals_surface_as_discord_py_errors(fake: FakeDiscord, bot: Bot) -> None:
    channel = bot.client.get_channel(int(CHANNEL))
    with pytest.raises(discord.HTTPException) as too_long:
        await within(channel.send("x" * 2001))
    assert too_long.value.status == 400 and too_long.value.code == 50035
    with pytest.raises(discord.NotFound):
        await within(bot.client.http.request(Route("GET", "/no/such/endpoint")))
    assert [c.path for c in fake.unhandled_calls] == ["/no/such/endpoint"]
    fake.fail_next("GET", rf"/channels/{CHANNEL}", status=502)
    fetched = await within(bot.client.fetch_channel(int(CHANNEL)))  # discord.py retries a 502 after 1 s
    assert fetched.id == int(CHANNEL)
    assert [c.status for c in fake.calls if c.path == f"/channels/{CHANNEL}"] == [502, 200]


async def test_a_late_acknowledgement_is_refused(fake: FakeDiscord, bot: Bot) -> None:
    fake.ack_timeout = 0.2
    outcome: asyncio.Queue = asyncio.Queue()

    @bot.client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)  # slower than Discord allows (3 s; shortened here)
        try:
            await interaction.response.send_message("too late")
        except discord.NotFound as exc:
            outcome.put_nowait(exc.code)

    await fake.send_interaction(user_id=ALICE, kind=3, custom_id="late")
    assert await within(outcome.get()) == 10062  # Unknown interaction


async def test_bad_token_is_a_login_failure(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    try:
        with pytest.raises(discord.LoginFailure):
            await within(client.login("not-the-token"))
    finally:
        await client.close()
    assert fake.calls[-1].status == 401
