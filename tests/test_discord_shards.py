"""Discord sharded (`[tower] shard_count`): Tower's real service runs discord.py's AutoShardedClient against
the fake Discord, which routes each guild's events to its own shard only, as Discord does. Two guilds, on
different shards: each interaction must reach Tower once, through its guild's shard, and be answered once."""

import asyncio

import discord
import pytest

import bot.platforms.discord as discord_platform
from commands.engine.settings import Settings
from storage.queries import audit
from tests.fakes.discord_payloads import shard_of
from tests.fakes.discord_server import FakeDiscord
from tests.platform_harness import platform_settings, start_service

SHARDS = 2
GUILD_A, CHANNEL_A = "800000000000000001", "700000000000000001"  # on shard 1 of 2
GUILD_B, CHANNEL_B = "800000000004194305", "700000000000000002"  # on shard 0 of 2
APP = "900000000000000001"
ALICE_D, BOB_D = "100000000000000001", "100000000000000002"


def test_the_two_guilds_are_on_different_shards():
    assert (shard_of(GUILD_A, SHARDS), shard_of(GUILD_B, SHARDS)) == (1, 0)


def sharded_settings(data_dir) -> Settings:
    data = platform_settings(data_dir).model_dump()
    data["tower"].update(shard_count=SHARDS, discord_guilds=[GUILD_A, GUILD_B])
    # Each guild's channel is a team channel: a change made in one is announced in the other.
    data["projects"]["demo"]["channels"] = {"team": [f"discord:{CHANNEL_A}", f"discord:{CHANNEL_B}"], "announce": []}
    return Settings.model_validate(data)


class Sharded:
    def __init__(self, fake: FakeDiscord, service):
        self.discord, self.service = fake, service

    @property
    def db(self):
        return self.service.tower.services.db

    @property
    def client(self) -> discord.AutoShardedClient:
        return self.service.discord.client

    async def command(self, name: str, *, guild: str, user: str = ALICE_D, **options):
        opts = [{"name": k, "value": v} for k, v in options.items()]
        interaction = await self.discord.send_interaction(user_id=user, name=name, options=opts, guild_id=guild)
        await self.discord.wait_until(lambda: answered(interaction))
        await asyncio.sleep(0.3)  # time for a second copy of the interaction, if any, to be handled too
        return interaction

    def shards_that_got(self, interaction) -> list[int]:
        return [
            shard
            for shard, event, data in self.discord.deliveries
            if event == "INTERACTION_CREATE" and data["id"] == interaction.id
        ]

    def callback_calls(self, interaction) -> list:
        """Every acknowledgement Tower tried, accepted or refused ("already acknowledged")."""
        prefix = f"/interactions/{interaction.id}/"
        return [c for c in self.discord.calls if c.method == "POST" and c.path.startswith(prefix)]


def answered(interaction) -> bool:
    return bool(interaction.edits or interaction.followups)


def embed_text(interaction) -> str:
    return interaction.replies[-1]["embeds"][0]["description"]


@pytest.fixture
async def sharded(tmp_path, db_target, clock):
    # Discord lets this bot start both shards at once (max_concurrency 2), so they need not wait 5 s apart.
    fake = FakeDiscord(
        members={ALICE_D: "alice", BOB_D: "bob"},
        guild_id=GUILD_A,
        channel_id=CHANNEL_A,
        guilds={GUILD_B: CHANNEL_B},
        recommended_shards=SHARDS,
        max_concurrency=SHARDS,
    )
    await fake.start()
    env = {
        **db_target.env(),
        "DISCORD_TOKEN": fake.token,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    }
    try:
        service = await start_service(sharded_settings(tmp_path / "data"), env, clock)
        try:
            yield Sharded(fake, service)
        finally:
            await service.stop()
    finally:
        await fake.stop()


async def test_each_shard_identifies_and_gets_only_its_own_guild(sharded):
    fake, client = sharded.discord, sharded.client
    assert isinstance(client, discord.AutoShardedClient) and client.shard_count == SHARDS
    assert sorted(p["shard"] for p in fake.identify_payloads) == [[0, 2], [1, 2]]
    assert fake.identifies == 2 and len(fake.gateway_queries) == 2 and fake.resumes == 0
    assert [c.status for c in fake.calls if c.path == "/gateway/bot"] == [200]  # the session start limits
    ready = {shard: data for shard, event, data in fake.deliveries if event == "READY"}
    assert {shard: data["shard"] for shard, data in ready.items()} == {0: [0, 2], 1: [1, 2]}
    assert {shard: [g["id"] for g in data["guilds"]] for shard, data in ready.items()} == {0: [GUILD_B], 1: [GUILD_A]}
    created = sorted((shard, data["id"]) for shard, event, data in fake.deliveries if event == "GUILD_CREATE")
    assert created == [(0, GUILD_B), (1, GUILD_A)]
    assert sorted(client.shards) == [0, 1]
    for guild_id, shard in ((GUILD_A, 1), (GUILD_B, 0)):
        guild = client.get_guild(int(guild_id))
        assert guild is not None and not guild.unavailable and guild.shard_id == shard


async def test_commands_are_synced_to_each_configured_guild(sharded):
    fake = sharded.discord
    puts = {
        guild: await fake.wait_for_call("PUT", rf"/applications/{APP}/guilds/{guild}/commands")
        for guild in (GUILD_A, GUILD_B)
    }
    names = {guild: {c["name"] for c in put.json} for guild, put in puts.items()}
    assert names[GUILD_A] == names[GUILD_B] and "release" in names[GUILD_A]
    assert not [c for c in fake.calls if c.method == "PUT" and c.path == f"/applications/{APP}/commands"]


@pytest.mark.parametrize(
    "guild, channel, shard",
    [(GUILD_A, CHANNEL_A, 1), (GUILD_B, CHANNEL_B, 0)],
    ids=["guild-on-shard-1", "guild-on-shard-0"],
)
async def test_a_command_reaches_tower_through_its_guilds_shard_once_and_is_answered_once(
    sharded, guild, channel, shard
):
    interaction = await sharded.command("release new", guild=guild, project="demo")
    assert sharded.shards_that_got(interaction) == [shard]
    assert len(sharded.callback_calls(interaction)) == 1  # one defer: nothing else tried to acknowledge it
    assert interaction.callbacks == [{"type": 5}] and len(interaction.edits) == 1
    assert embed_text(interaction).startswith("Opened demo#1 (planning).")
    async with sharded.db.read() as s:
        entries = await audit.entries(s)
    assert [(e.action, e.actor, e.platform, e.channel) for e in entries] == [
        ("release.new", "alice", "discord", f"discord:{channel}")
    ]
    status = await sharded.command("release status", guild=guild, release="demo")
    assert embed_text(status).splitlines()[0] == "demo#1: planning"  # no demo#2: the change happened once


async def test_a_button_in_a_direct_message_goes_through_shard_zero(sharded):
    await sharded.command("release new", guild=GUILD_A, project="demo")
    clicked = await sharded.discord.send_interaction(
        user_id=BOB_D, kind=3, dm=True, custom_id="tower:/release status demo#1"
    )
    await sharded.discord.wait_until(lambda: answered(clicked))
    await asyncio.sleep(0.3)
    assert sharded.shards_that_got(clicked) == [0]
    assert len(sharded.callback_calls(clicked)) == 1
    assert embed_text(clicked).startswith("demo#1: planning")


async def test_a_change_is_posted_once_to_the_team_channel_on_the_other_shard(sharded):
    await sharded.command("release new", guild=GUILD_A, project="demo")  # from guild A's team channel
    fake = sharded.discord
    posted = await fake.wait_until(lambda: fake.messages.get(CHANNEL_B))
    await asyncio.sleep(0.5)  # long enough for a duplicate to land
    assert len(posted) == 1 and posted[0]["embeds"][0]["description"].startswith("Alice opened demo#1 (planning).")
    sends = [c for c in fake.calls if c.method == "POST" and c.path == f"/channels/{CHANNEL_B}/messages"]
    assert [c.status for c in sends] == [200]
    assert CHANNEL_A not in fake.messages  # where the command ran, the answer says it


async def test_a_dropped_shard_resumes_and_gets_what_it_missed_while_the_other_carries_on(sharded):
    fake = sharded.discord
    await fake.drop_connection(abort=True, shard=1)
    interaction = await sharded.command("release new", guild=GUILD_A, project="demo")  # shard 1's guild
    assert fake.resumes == 1 and fake.identifies == 2  # shard 1 resumed; shard 0 never reconnected
    assert sharded.shards_that_got(interaction) == [1]
    assert len(sharded.callback_calls(interaction)) == 1
    assert embed_text(interaction).startswith("Opened demo#1 (planning).")
    other = await sharded.command("release status", guild=GUILD_B, release="demo")
    assert sharded.shards_that_got(other) == [0] and embed_text(other).splitlines()[0] == "demo#1: planning"


async def test_identifies_wait_for_their_rate_limit_bucket(monkeypatch):
    """Four shards, two IDENTIFYs per window: shards 0 and 1 go at once, 2 and 3 one window later."""
    monkeypatch.setattr(discord_platform, "IDENTIFY_WINDOW_S", 0.3)
    client = discord_platform._ShardedClient(adapter=None, shard_count=4)
    client.max_concurrency = 2
    loop = asyncio.get_running_loop()
    start, at = loop.time(), []
    for shard in range(4):
        await client.before_identify_hook(shard, initial=shard == 0)
        at.append(loop.time() - start)
    assert at[1] < 0.1 and 0.3 <= at[2] < 0.45 and at[3] < 0.45
    await client.before_identify_hook(0)  # a re-IDENTIFY of shard 0 waits for its bucket's next window
    assert loop.time() - start >= 0.6
