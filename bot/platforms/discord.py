"""The Discord adapter (discord.py): application commands generated from the registry, replies as
embeds, buttons that run their command as whoever clicks them.

Every interaction is deferred first — before any database or network work — and answered by
editing the deferred response; when the interaction token has expired (15 minutes) the answer
falls back to a channel message.

With `[tower] shard_count` the client is discord.py's AutoShardedClient running all the shards in
this process: Discord sends each guild's events (interactions included) on its shard's connection
only, so every interaction still reaches Tower exactly once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.backlog import BUSY, Backlog
from bot.courier import Ambiguous, Permanent, Transient
from bot.inflight import InFlight
from bot.platforms.discord_commands import build
from bot.platforms.discord_render import command_of, option_form, spent, to_embed, to_view
from bot.worker import RunsCommands
from commands.engine import grammar
from commands.engine.context import Caller
from commands.engine.errors import CommandError
from commands.engine.lookup import OPEN_STATES
from commands.engine.outbox import post
from commands.engine.permissions import project_key_of, surely_refused
from commands.engine.references import Show
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.settings import PersonSettings
from commands.engine.spec import Kind, Option
from storage.queries import releases

if TYPE_CHECKING:
    from discord.types.interactions import MessageComponentInteractionData

log = logging.getLogger("tower.discord")
READY_TIMEOUT_S = 60
IDENTIFY_WINDOW_S = 5.0  # Discord: each IDENTIFY rate-limit bucket allows one IDENTIFY per 5 s


def point_discord_at(api_url: str | None, gateway_url: str | None) -> None:
    """discord.py keeps its REST base and its gateway address in class attributes; Tower runs one
    Discord client per process, so setting them here affects only Tower's client."""
    import yarl
    from discord.gateway import DiscordWebSocket

    if api_url:
        discord.http.Route.BASE = api_url.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class _TowerClient(discord.Client):
    """What Tower's client adds to discord.py's, sharded or not; mixed in before the discord.py class.
    Subclassing Client types super().__init__ and leaves the concrete classes' MRO as it was."""

    def __init__(self, adapter: DiscordAdapter, **options):
        intents = discord.Intents.none()
        intents.guilds = True  # interactions need no privileged intents
        # on_ready waits this long after the last GUILD_CREATE (2 s by default): Tower needs no member cache.
        # Nothing Tower posts pings anyone unless a message names whom it means (a page's mention).
        silent = discord.AllowedMentions.none()
        super().__init__(intents=intents, guild_ready_timeout=0.5, allowed_mentions=silent, **options)
        self.adapter = adapter

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.component:
            # The type checker cannot tie interaction.type to the shape of interaction.data.
            data = cast("MessageComponentInteractionData", interaction.data or {})
            command = command_of(data.get("custom_id", ""))
            if command is not None:
                await self.adapter.on_button(interaction, command)


class _Client(_TowerClient, discord.Client):
    """One gateway connection for every guild."""


class _ShardedClient(_TowerClient, discord.AutoShardedClient):
    """Shards 0 to shard_count - 1, all in this process; discord.py talks to each guild through its shard."""

    def __init__(self, adapter: DiscordAdapter, shard_count: int):
        super().__init__(adapter, shard_count=shard_count)
        self.max_concurrency = 1  # from GET /gateway/bot, before connecting
        self._identify_slots: dict[int, float] = {}  # rate-limit bucket -> loop time of its latest IDENTIFY

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord lets max_concurrency shards IDENTIFY at once: shard s is in bucket s % max_concurrency, and
        each bucket may IDENTIFY once per 5 s. (discord.py's default waits 5 s before every IDENTIFY but the
        first, whatever the concurrency.)"""
        loop = asyncio.get_running_loop()
        bucket = (shard_id or 0) % max(1, self.max_concurrency)
        last = self._identify_slots.get(bucket)
        slot = loop.time() if last is None else max(loop.time(), last + IDENTIFY_WINDOW_S)
        self._identify_slots[bucket] = slot  # taken before waiting, so no two IDENTIFYs share a slot
        await asyncio.sleep(slot - loop.time())


def _client(adapter: DiscordAdapter, shard_count: int | None) -> discord.Client:
    return _ShardedClient(adapter, shard_count) if shard_count else _Client(adapter)


class DiscordAdapter:
    def __init__(
        self,
        services: Services,
        dispatcher: RunsCommands,
        *,
        token: str,
        guild_ids: list[str],
        api_url: str | None = None,
        gateway_url: str | None = None,
        on_change=None,
        shard_count: int | None = None,
        backlog: Backlog | None = None,
    ):
        self.services = services
        self.dispatcher = dispatcher
        self.token = token
        self.guild_ids = guild_ids
        self.api_url, self.gateway_url = api_url, gateway_url
        self.on_change = on_change or (lambda: None)
        self.shard_count = shard_count  # None: one connection, no sharding
        self.show = option_form(services.registry)  # command references as Discord's option form
        self.client = _client(self, shard_count)
        self.tree = app_commands.CommandTree(self.client)
        for command in build(services.registry, self.on_command, self.complete):
            self.tree.add_command(command)
        self._task: asyncio.Task | None = None
        self.in_flight = InFlight()
        self.backlog = backlog or Backlog(services.settings.tower.backlog_limit)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self, sync: bool = True) -> None:
        point_discord_at(self.api_url, self.gateway_url)
        await self.client.login(self.token)
        timeout: float = READY_TIMEOUT_S
        if isinstance(self.client, _ShardedClient):
            timeout += await self._plan_shards(self.client)
        self._task = asyncio.create_task(self.client.connect(reconnect=True), name="discord gateway")
        ready = asyncio.create_task(self.client.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # raises the connection error
            raise TimeoutError(f"Discord did not become ready within {timeout:.0f}s")
        if sync:
            await self.sync()

    async def _plan_shards(self, client: _ShardedClient) -> float:
        """Ask Discord (GET /gateway/bot) how many shards may IDENTIFY at once; returns how much longer than
        one connection the shards take to start, their IDENTIFYs being spaced by Discord's rate limit."""
        data = await client.http.request(discord.http.Route("GET", "/gateway/bot"))
        limits = data.get("session_start_limit") or {}
        client.max_concurrency = max(1, int(limits.get("max_concurrency") or 1))
        count, recommended = self.shard_count or 1, data.get("shards")
        log.info("discord: %d shards, %d at a time (Discord recommends %s)", count, client.max_concurrency, recommended)
        if isinstance(recommended, int) and recommended > count:
            log.warning("discord: shard_count is %d but Discord recommends %d shards", count, recommended)
        if isinstance(limits.get("remaining"), int) and limits["remaining"] < count:
            log.warning("discord: only %d session starts left today, for %d shards", limits["remaining"], count)
        waves = -(-count // client.max_concurrency)  # rounds of IDENTIFYs
        return IDENTIFY_WINDOW_S * (waves - 1)

    async def sync(self) -> list[str]:
        """Register the commands: in each configured guild at once, else globally (which Discord
        may take up to an hour to show)."""
        synced = []
        if self.guild_ids:
            for guild_id in self.guild_ids:
                guild = discord.Object(int(guild_id))
                self.tree.copy_global_to(guild=guild)
                synced += [f"{c.name} in {guild_id}" for c in await self.tree.sync(guild=guild)]
        else:
            synced += [c.name for c in await self.tree.sync()]
        return synced

    async def login_only(self) -> None:
        """REST only, no gateway: enough for `tower discord-sync`."""
        point_discord_at(self.api_url, self.gateway_url)
        await self.client.login(self.token)

    async def close(self) -> None:
        await self.in_flight.drain()
        await self.client.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # -- inbound ---------------------------------------------------------------------------------
    async def on_command(self, interaction: discord.Interaction, spec, values: dict) -> None:
        if not self.backlog.admit():
            await interaction.response.send_message(BUSY, ephemeral=True)  # the answer is the acknowledgement
            return
        with self.backlog.place():
            raw = {k: v for k, v in values.items() if v is not None and v is not False}
            private = self._private(interaction, spec, raw)
            await interaction.response.defer(ephemeral=private, thinking=True)
            with self.in_flight:
                reply = await self.dispatcher.run_parsed(spec, raw, _caller(interaction), grammar.unparse(spec, raw))
                await self._answer(interaction, reply, deferred_ephemeral=private)

    async def on_button(self, interaction: discord.Interaction, command: str) -> None:
        if not self.backlog.admit():
            await interaction.response.send_message(BUSY, ephemeral=True)
            return
        with self.backlog.place():
            spec = None
            try:
                tokens = grammar.tokenize(command)
                spec, used = self.services.registry.find([t.value for t in tokens])
                private = self._private(interaction, spec, grammar.parse(spec, tokens[used:]))
            except CommandError:
                private = True
            await interaction.response.defer(ephemeral=private, thinking=True)
            with self.in_flight:
                reply = await self.dispatcher.run(command, _caller(interaction))
                await self._answer(interaction, reply, deferred_ephemeral=private)
                if spec is not None and spec.mutates and reply.ok:
                    await disable_buttons(interaction)  # a change is made once: its buttons are spent

    def _private(self, interaction: discord.Interaction, spec, raw: dict) -> bool:
        """Whether to defer privately: reads are private, and so is a change the caller may not make
        whatever the crew tables say (decided from config alone, before any database work), so a
        refusal never shows the channel a public "thinking…"."""
        settings = self.services.settings
        person = settings.person_by_platform_id("discord", str(interaction.user.id))
        return not spec.mutates or surely_refused(spec, person, settings, project_key_of(spec, raw))

    async def _answer(self, interaction: discord.Interaction, reply: Reply, *, deferred_ephemeral: bool) -> None:
        embed, view = to_embed(reply, self.show), to_view(reply)
        extra: dict[str, Any] = {"view": view} if view is not None else {}  # no view: leave it out, not None
        try:
            if reply.ephemeral and not deferred_ephemeral:
                # A refused change: take back the public "thinking…" and answer privately.
                await interaction.delete_original_response()
                await interaction.followup.send(embed=embed, ephemeral=True, **extra)
            else:
                await interaction.edit_original_response(embed=embed, **extra)
        except (discord.NotFound, discord.Forbidden, discord.HTTPException) as err:
            log.info("discord: interaction answer failed (%s); falling back to a channel message", type(err).__name__)
            await self._fallback(reply, _caller(interaction))
            self.on_change()
            return
        if not reply.ephemeral:
            self.on_change()  # a change may have queued messages; a read or a refusal queued none

    async def _fallback(self, reply: Reply, caller: Caller) -> None:
        now = self.services.clock.now()
        if reply.ephemeral:
            # A private answer never goes to the channel: it goes to the person, as a direct message.
            async with self.services.db.write() as session:
                key = f"fallback:{caller.label}:{now.isoformat()}"
                await post(session, f"discord-dm:{caller.user_id}", reply, key=key, now=now)
            return
        note = Reply(
            text=f"<@{caller.user_id}>: {reply.text}",
            ok=reply.ok,
            fields=reply.fields,
            sections=reply.sections,
            buttons=reply.buttons,
            footer=reply.footer,
        )
        async with self.services.db.write() as session:
            await post(session, caller.channel or "", note, key=f"fallback:{caller.label}:{now.isoformat()}", now=now)

    async def complete(self, interaction: discord.Interaction, option: Option, current: str):
        settings = self.services.settings
        if option.kind is Kind.PERSON:
            names = sorted(settings.people)
        elif option.kind is Kind.PROJECT:
            names = sorted(settings.projects)
        else:
            names = sorted(settings.projects)
            async with self.services.db.read() as session:
                for rel, proj in await releases.listing(session, states=OPEN_STATES):
                    names.append(f"{proj.key}@{rel.version}" if rel.version else f"{proj.key}#{rel.number}")
        current = (current or "").lower()
        return [app_commands.Choice(name=n, value=n) for n in names if current in n.lower()][:25]


async def disable_buttons(interaction: discord.Interaction) -> None:
    """Grey out the buttons of the message clicked, so a change is not offered twice. A message the
    interaction's webhook sent (an answer, private or not) is edited through it; a channel message
    (the outbox's) through the channel."""
    message = interaction.message
    view = spent(message) if message is not None else None
    if message is None or view is None:
        return
    try:
        if message.flags.ephemeral or message.interaction_metadata is not None:
            await interaction.followup.edit_message(message.id, view=view)
        else:
            await message.edit(view=view)
    except discord.HTTPException as err:
        log.info("discord: could not disable the buttons of a message (%s)", type(err).__name__)


def _caller(interaction: discord.Interaction) -> Caller:
    return Caller(
        "discord", str(interaction.user.id), channel=f"discord:{interaction.channel_id}", display=interaction.user.name
    )


class DiscordSender:
    """Posts outbox messages to channels. The outbox key becomes the message nonce, and discord.py
    sends it with enforce_nonce, so re-sending after an ambiguous failure cannot post twice."""

    def __init__(
        self,
        client: discord.Client,
        people: Mapping[str, PersonSettings] | None = None,
        *,
        direct: bool = False,
        show: Show | None = None,
    ):
        self.client = client
        self.people = people or {}
        self.direct = direct  # discord-dm:USER_ID: a direct message to that user
        self.show = show

    async def _target(self, target_id: str) -> discord.PartialMessageable | discord.DMChannel:
        if not self.direct:
            return self.client.get_partial_messageable(int(target_id))
        # Opening the DM needs only the user's id; no member cache, no privileged intents.
        return await self.client.create_dm(discord.Object(int(target_id)))

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        import aiohttp

        view = to_view(reply)
        extra: dict[str, Any] = {"view": view} if view is not None else {}
        ids = [d for h in reply.mentions if h in self.people and (d := self.people[h].discord)]
        if ids:  # mentions inside an embed notify nobody: they go in the message text
            extra.update(
                content=" ".join(f"<@{i}>" for i in ids),
                allowed_mentions=discord.AllowedMentions(
                    users=[discord.Object(int(i)) for i in ids], roles=False, everyone=False, replied_user=False
                ),
            )
        try:
            channel = await self._target(channel_id)
            message = await channel.send(embed=to_embed(reply, self.show), nonce=nonce(key), **extra)
        except (discord.NotFound, discord.Forbidden) as err:
            raise Permanent(f"discord {err.status}: {err.text}") from None
        except discord.HTTPException as err:
            raise Transient(f"discord {err.status}") from None
        except aiohttp.ClientConnectorError as err:
            raise Transient(type(err).__name__) from None
        except (TimeoutError, OSError, aiohttp.ClientError) as err:
            raise Ambiguous(type(err).__name__) from None
        return str(message.id)

    async def edit(self, channel_id: str, message_id: str, reply: Reply) -> str | None:
        channel = await self._target(channel_id)
        try:
            await channel.get_partial_message(int(message_id)).edit(embed=to_embed(reply, self.show))
        except (discord.NotFound, discord.Forbidden) as err:
            raise Permanent(f"discord {err.status}: {err.text}") from None
        except discord.HTTPException as err:
            raise Transient(f"discord {err.status}") from None
        return message_id

    async def find(self, channel_id: str, key: str, since) -> str | None:
        return None  # a re-send with the same nonce returns the message already posted


def nonce(key: str) -> str:
    """Discord nonces are at most 25 characters."""
    return hashlib.sha256(key.encode()).hexdigest()[:25]
