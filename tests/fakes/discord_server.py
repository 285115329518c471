"""A local Discord: the REST API and the gateway on 127.0.0.1, for the real discord.py client.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_url`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.
It behaves like Discord where Tower depends on it: sessions and RESUME with replay, sequence numbers,
interaction acknowledgement rules (one callback, within 3 s), rate limits the way Discord signals them,
message limits and nonce de-duplication. Everything the bot sends is recorded for tests to read.
This module is the server, the gateway and the guilds; the interactions users make are
``discord_interactions.DiscordInteractions`` and the REST endpoints ``discord_rest.DiscordRest``, which
``FakeDiscord`` mixes in.

Sharding works as on Discord: a client may IDENTIFY with ``shard: [id, count]``; each shard is its own session
(sequence numbers, RESUME), READY lists and GUILD_CREATE sends only the guilds the shard owns
(``(guild_id >> 22) % count == id``), and every event of a guild goes to the session of its shard alone — events
without a guild (DMs) to shard 0. A client that sends no ``shard`` is shard 0 of 1 and gets everything."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ClassVar

from aiohttp import WSMsgType, web

from tests.fakes import discord_payloads as P
from tests.fakes.discord_interactions import DiscordInteractions
from tests.fakes.discord_records import JSON, Interaction, RecordedCall
from tests.fakes.discord_rest import DiscordRest
from tests.fakes.discord_sessions import GatewayConn, GatewaySession
from tests.fakes.local_server import LocalServer

__all__ = ["FakeDiscord", "Interaction", "RecordedCall"]

API_PREFIX = "/api/v10"
CLOSE_UNKNOWN_OP, CLOSE_DECODE, CLOSE_NOT_AUTHED, CLOSE_AUTH_FAILED, CLOSE_ALREADY_AUTHED = 4001, 4002, 4003, 4004, 4005
CLOSE_INVALID_SHARD = 4010


class FakeDiscord(DiscordInteractions, DiscordRest, LocalServer):
    _runner_options: ClassVar[dict[str, Any]] = {}  # aiohttp's defaults (access log, 60 s shutdown_timeout), as before

    def __init__(
        self,
        *,
        application_id: str = "900000000000000001",
        bot_user_id: str = "900000000000000001",
        guild_id: str = "800000000000000001",
        channel_id: str = "700000000000000001",
        members: dict[str, str] | None = None,
        roles: dict[str, str] | None = None,
        member_roles: dict[str, list[str]] | None = None,
        token: str = "fake-bot-token",
        bot_name: str = "tower",
        heartbeat_interval_ms: int = 41250,
        ack_timeout: float | None = 3.0,
        guilds: dict[str, str] | None = None,
        recommended_shards: int = 1,
        max_concurrency: int = 1,
    ):
        """``guilds``: more guilds the bot is in besides ``guild_id``, each with one text channel (guild id ->
        channel id). ``recommended_shards`` and ``max_concurrency`` are what GET /gateway/bot advises."""
        self.application_id, self.bot_user_id, self.guild_id, self.channel_id = (
            application_id,
            bot_user_id,
            guild_id,
            channel_id,
        )
        self.guild_channels = {guild_id: channel_id, **(guilds or {})}  # every guild -> its text channel
        self.recommended_shards, self.max_concurrency = recommended_shards, max_concurrency
        self.token, self.heartbeat_interval_ms, self.ack_timeout = token, heartbeat_interval_ms, ack_timeout
        self.members = dict(members or {})  # user_id -> username
        self.roles = dict(roles or {})  # role_id -> name (@everyone is added, with the guild's id)
        self.member_roles = {k: list(v) for k, v in (member_roles or {}).items()}
        self.bot_name = bot_name
        self.ids = P.Snowflakes()
        self.bot = P.user(bot_user_id, bot_name, bot=True)
        self.messages: dict[str, list[JSON]] = {}  # channel_id -> messages posted to /channels/{id}/messages
        self.interactions: dict[str, Interaction] = {}
        self.commands: dict[str | None, list[JSON]] = {}  # guild_id (None = global) -> registered commands
        self.dm_channels: dict[str, JSON] = {}  # user_id -> DM channel
        self.identifies = self.resumes = self.heartbeats = 0
        self.identify_payloads: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []  # query string of every gateway connection
        self.received_ops: list[JSON] = []  # every gateway payload from the client
        self.sessions: dict[int, GatewaySession] = {}  # shard id -> its current session
        self.deliveries: list[tuple[int, str, JSON]] = []  # (shard id, event, data) of every dispatch, in order
        self._conns: set[GatewayConn] = set()
        self._send_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        super().__init__()  # the REST side (calls, faults, routes), then LocalServer's port, base_url...

    # --- lifecycle ------------------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/{version:v\\d+}/{tail:.*}", self._rest)

    async def stop(self) -> None:
        for conn in list(self._conns):
            conn.dropped = True
            await conn.ws.close(code=1001, message=b"server shutting down")
        await super().stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- sessions (one per shard) ---------------------------------------------------------------------------

    def _session(self, shard: int) -> GatewaySession:
        session = self.sessions.get(shard)
        if session is None:
            raise RuntimeError(f"no gateway session for shard {shard}")
        return session

    @property
    def session_id(self) -> str | None:
        """The id of shard 0's session (the only one of an unsharded client); None when there is none."""
        session = self.sessions.get(0)
        return session.id if session else None

    @property
    def seq(self) -> int:
        """The last sequence number of shard 0's session."""
        session = self.sessions.get(0)
        return session.seq if session else 0

    # --- waiting --------------------------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], Any], timeout: float = 10) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the fake's state changes); return it."""

        async def loop():
            while not (result := predicate()):
                await self._changed.wait()
            return result

        return await asyncio.wait_for(loop(), timeout)

    async def wait_ready(self, timeout: float = 10) -> None:
        """Wait until every shard of the client (0 to the count shard 0 identified with) is live and ready."""

        def ready() -> bool:
            first = self.sessions.get(0)
            return first is not None and all(
                (s := self.sessions.get(i)) is not None and s.live is not None and s.live.ready
                for i in range(first.shard_count)
            )

        await self.wait_until(ready, timeout)

    # --- gateway --------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        conn = GatewayConn(ws, request)
        self._conns.add(conn)
        hello = {"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None}
        await self._send(conn, hello)
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:  # discord.py sends JSON text; anything else is a decode error
                    await ws.close(code=CLOSE_DECODE, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=CLOSE_DECODE, message=b"Error while decoding payload.")
                    break
                self.received_ops.append(payload)
                await self._on_op(conn, payload)
        finally:
            self._conns.discard(conn)
            session = conn.session
            if session is not None and session.live is conn:
                session.live = None
            # Discord ends a session when the client closes with 1000/1001; other codes keep it resumable.
            if (
                ws.close_code in (1000, 1001)
                and conn.authed
                and session is not None
                and session.live is None
                and not conn.dropped
            ):
                session.id = None
            self._notify()
        return ws

    async def _on_op(self, conn: GatewayConn, payload: JSON) -> None:
        op, d = payload.get("op"), payload.get("d")
        if op == 1:
            self.heartbeats += 1
            await self._send(conn, {"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            if conn.authed:
                await conn.ws.close(code=CLOSE_ALREADY_AUTHED, message=b"You sent more than one identify payload.")
            elif (d or {}).get("token") != self.token:
                await conn.ws.close(code=CLOSE_AUTH_FAILED, message=b"Authentication failed.")
            else:
                await self._identify(conn, d)
        elif op == 6:
            await self._resume(conn, d or {})
        elif not conn.authed:
            await conn.ws.close(code=CLOSE_NOT_AUTHED, message=b"You sent a payload prior to identifying.")
        elif op == 8:  # request guild members: all of them fit one chunk, on the connection that asked
            guild = str((d or {}).get("guild_id") or self.guild_id)
            await self._dispatch_to(
                conn.session,
                "GUILD_MEMBERS_CHUNK",
                {
                    "guild_id": guild,
                    "members": self._members(),
                    "chunk_index": 0,
                    "chunk_count": 1,
                    "not_found": [],
                    **({"nonce": d["nonce"]} if (d or {}).get("nonce") else {}),
                },
            )
        elif op in (3, 4):  # presence / voice state: accepted, recorded in received_ops
            pass
        else:
            await conn.ws.close(code=CLOSE_UNKNOWN_OP, message=b"Unknown opcode.")
        self._notify()

    async def _identify(self, conn: GatewayConn, d: JSON) -> None:
        shard = d.get("shard", [0, 1])
        if not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(type(n) is int for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=CLOSE_INVALID_SHARD, message=b"Invalid shard.")
            return
        self.identifies += 1
        self.identify_payloads.append(d)
        conn.authed = True
        session = GatewaySession(*shard)
        async with self._send_lock:  # a new IDENTIFY of the same shard replaces its session
            old = self.sessions.get(session.shard_id)
            if old is not None and old.live is not None and old.live is not conn:
                old.live.ready = False
            self.sessions[session.shard_id], session.live, conn.session = session, conn, session
        guilds = [g for g in self.guild_channels if session.owns(g)]
        await self._dispatch_to(
            session,
            "READY",
            {
                "v": 10,
                "user": P.bot_user(self.bot_user_id, self.bot_name),
                "guilds": [{"id": g, "unavailable": True} for g in guilds],
                "session_id": session.id,
                "resume_gateway_url": self.gateway_url,
                "session_type": "normal",
                "private_channels": [],
                "relationships": [],
                "user_settings": {},
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "shard": shard,
                "application": {"id": self.application_id, "flags": 0},
                "_trace": ["fake-discord"],
            },
        )
        for guild in guilds:  # the guilds READY listed as unavailable
            await self._dispatch_to(session, "GUILD_CREATE", self.guild_payload(guild))
        conn.ready = True

    async def _resume(self, conn: GatewayConn, d: JSON) -> None:
        session = next((s for s in self.sessions.values() if s.id and s.id == d.get("session_id")), None)
        if session is None or d.get("token") != self.token:
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})  # not resumable: identify anew
            return
        self.resumes += 1
        conn.authed = True
        async with self._send_lock:  # replay and go live atomically, so no dispatch is lost or doubled
            since = d.get("seq") or 0
            for event in session.log:
                if event["s"] > since:
                    await self._send(conn, event)
            session.seq += 1
            await self._send(conn, {"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fake-discord"]}})
            session.live, conn.session, conn.ready = conn, session, True

    async def _send(self, conn: GatewayConn, payload: JSON) -> bool:
        try:
            await conn.ws.send_str(json.dumps(payload))  # text frames: discord.py only decompresses binary ones
            return True
        except (ConnectionError, RuntimeError):
            return False

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a DISPATCH (op 0) as Discord routes it: to the session of the shard that owns the event's guild,
        or shard 0's for an event outside guilds (a DM). If that session has no live connection, the event is
        replayed on RESUME. Returns its sequence number in that session, 0 if no session takes it."""
        guild = data.get("guild_id")
        if guild is None and event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
            guild = data.get("id")
        seq = 0
        for session in [s for s in self.sessions.values() if s.id and s.owns(None if guild is None else str(guild))]:
            seq = await self._dispatch_to(session, event, data)
        self._notify()
        return seq

    async def _dispatch_to(self, session: GatewaySession, event: str, data: JSON) -> int:
        async with self._send_lock:
            session.seq += 1
            payload = {"op": 0, "t": event, "s": session.seq, "d": data}
            session.log.append(payload)
            self.deliveries.append((session.shard_id, event, data))
            if session.live is not None and not await self._send(session.live, payload):
                session.live = None
        self._notify()
        return payload["s"]

    async def drop_connection(self, code: int = 4000, *, abort: bool = False, shard: int = 0) -> None:
        """End the live gateway connection (of ``shard``) the way a network fault or a Discord restart does;
        the session stays resumable. ``abort`` cuts the TCP connection without a close frame."""
        session = self._session(shard)
        conn = session.live
        if conn is None:
            raise RuntimeError(f"no live gateway connection of shard {shard} to drop")
        session.live = None
        conn.dropped = True
        if abort and conn.request.transport is not None:
            conn.request.transport.abort()
        else:
            await conn.ws.close(code=code, message=b"fake: connection dropped")
        self._notify()

    async def request_reconnect(self, shard: int = 0) -> None:
        """op 7 RECONNECT: the client should close (that shard's connection) and RESUME."""
        conn = self._session(shard).live
        if conn is not None:
            await self._send(conn, {"op": 7, "d": None, "s": None, "t": None})

    async def invalidate_session(self, resumable: bool = False, shard: int = 0) -> None:
        """op 9 INVALID_SESSION on the live connection (of ``shard``); unless ``resumable`` the client must
        IDENTIFY again."""
        session = self._session(shard)
        conn = session.live
        if conn is not None:
            if not resumable:
                session.id, session.live = None, None
            await self._send(conn, {"op": 9, "d": resumable, "s": None, "t": None})

    # --- guild state ----------------------------------------------------------------------------------------

    def _user(self, user_id: str) -> JSON:
        if user_id == self.bot_user_id:
            return self.bot
        return P.user(user_id, self.members.get(user_id, f"user-{user_id[-4:]}"))

    def _member(self, user_id: str) -> JSON:
        return P.member(self._user(user_id), self.member_roles.get(user_id, []), joined_at="2024-01-01T00:00:00+00:00")

    def _members(self) -> list[JSON]:
        return [self._member(uid) for uid in [self.bot_user_id, *self.members]]

    def _channel(self, channel_id: str) -> JSON | None:
        for guild_id, text_channel_id in self.guild_channels.items():
            if channel_id == text_channel_id:
                return P.text_channel(channel_id, guild_id, "releases")
        return next((c for c in self.dm_channels.values() if c["id"] == channel_id), None)

    def guild_payload(self, guild_id: str | None = None) -> JSON:
        """GUILD_CREATE of a guild (by default the first); ``roles`` are the first guild's."""
        guild_id = guild_id or self.guild_id
        roles = [P.role(guild_id, "@everyone", position=0)]
        if guild_id == self.guild_id:
            roles += [P.role(rid, name, position=i + 1) for i, (rid, name) in enumerate(self.roles.items())]
        name = "Tower Test Guild" if guild_id == self.guild_id else f"Tower Test Guild {guild_id[-4:]}"
        return P.guild(
            guild_id,
            name,
            owner_id=next(iter(self.members), self.bot_user_id),
            channels=[self._channel(self.guild_channels[guild_id])],
            roles=roles,
            members=self._members(),
        )

    async def _dm_channel(self, user_id: str) -> JSON:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = P.dm_channel(self.ids.next(), self._user(user_id))
        return self.dm_channels[user_id]
