"""A local Discord: the REST API and the gateway on 127.0.0.1, for the real discord.py client.

Point discord.py at it with ``discord.http.Route.BASE = fake.api_url`` and
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)``.
It behaves like Discord where Tower depends on it: sessions and RESUME with replay, sequence numbers,
interaction acknowledgement rules (one callback, within 3 s), rate limits the way Discord signals them,
message limits and nonce de-duplication. Everything the bot sends is recorded for tests to read."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import WSMsgType, web
from multidict import CIMultiDict

from tests.fakes import discord_payloads as P

JSON = dict[str, Any]
API_PREFIX = "/api/v10"
CLOSE_UNKNOWN_OP, CLOSE_DECODE, CLOSE_NOT_AUTHED, CLOSE_AUTH_FAILED, CLOSE_ALREADY_AUTHED = 4001, 4002, 4003, 4004, 4005


@dataclass
class RecordedCall:
    """One REST request, as it arrived (``path`` without the /api/v10 prefix) and what it got back."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, content)
    at: float = 0.0  # loop time on arrival
    status: int | None = None  # None while it is being answered
    response: Any = None
    route: str | None = None  # the endpoint it matched; None for paths this fake (and Discord) doesn't have


@dataclass
class Interaction:
    """An interaction the fake dispatched, and everything the bot answered to it."""

    id: str
    token: str
    payload: JSON
    dispatched_at: float
    callbacks: list[JSON] = field(default_factory=list)  # bodies POSTed to /interactions/{id}/{token}/callback
    original: JSON | None = None  # the @original message as it now stands
    edits: list[JSON] = field(default_factory=list)  # bodies PATCHed to @original
    followups: list[JSON] = field(default_factory=list)  # messages created via POST /webhooks/{app}/{token}

    def __iter__(self):  # so that ``interaction_id, token = await fake.send_interaction(...)`` works
        return iter((self.id, self.token))

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def replies(self) -> list[JSON]:
        """What the user sees in answer: the response message (unless still "thinking"), then follow-ups."""
        shown = [self.original] if self.original and not self.original["flags"] & 128 else []
        return shown + [m for m in self.followups if m is not self.original]

    @property
    def choices(self) -> list[JSON] | None:
        """Autocomplete choices the bot returned (callback type 8)."""
        return next((c["data"]["choices"] for c in self.callbacks if c["type"] == 8), None)


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    count: int
    respond: Callable[[], tuple[int, Any, dict[str, str]]]


class _Conn:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request):
        self.ws, self.request = ws, request
        self.authed = False
        self.ready = False  # READY or RESUMED sent on this connection
        self.dropped = False  # closed by the fake, not by the client


class FakeDiscord:
    def __init__(self, *, application_id: str = "900000000000000001", bot_user_id: str = "900000000000000001",
                 guild_id: str = "800000000000000001", channel_id: str = "700000000000000001",
                 members: dict[str, str] | None = None, roles: dict[str, str] | None = None,
                 member_roles: dict[str, list[str]] | None = None, token: str = "fake-bot-token",
                 bot_name: str = "tower", heartbeat_interval_ms: int = 41250, ack_timeout: float | None = 3.0):
        self.application_id, self.bot_user_id, self.guild_id, self.channel_id = (
            application_id, bot_user_id, guild_id, channel_id)
        self.token, self.heartbeat_interval_ms, self.ack_timeout = token, heartbeat_interval_ms, ack_timeout
        self.members = dict(members or {})  # user_id -> username
        self.roles = dict(roles or {})  # role_id -> name (@everyone is added, with the guild's id)
        self.member_roles = {k: list(v) for k, v in (member_roles or {}).items()}
        self.bot_name = bot_name
        self.ids = P.Snowflakes()
        self.bot = P.user(bot_user_id, bot_name, bot=True)
        self.calls: list[RecordedCall] = []
        self.messages: dict[str, list[JSON]] = {}  # channel_id -> messages posted to /channels/{id}/messages
        self.interactions: dict[str, Interaction] = {}
        self.commands: dict[str | None, list[JSON]] = {}  # guild_id (None = global) -> registered commands
        self.dm_channels: dict[str, JSON] = {}  # user_id -> DM channel
        self.identifies = self.resumes = self.heartbeats = 0
        self.identify_payloads: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []  # query string of every gateway connection
        self.received_ops: list[JSON] = []  # every gateway payload from the client
        self.session_id: str | None = None
        self.seq = 0
        self._log: list[JSON] = []  # dispatches of this session, for RESUME replay
        self._live: _Conn | None = None  # the connection dispatches go to
        self._conns: set[_Conn] = set()
        self._send_lock = asyncio.Lock()
        self._faults: list[_Fault] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes = self._route_table()

    # --- lifecycle ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/{version:v\\d+}/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for conn in list(self._conns):
            conn.dropped = True
            await conn.ws.close(code=1001, message=b"server shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

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
        await self.wait_until(lambda: self._live is not None and self._live.ready, timeout)

    async def wait_for_call(self, method: str, path_pattern: str, timeout: float = 10, after: int = 0) -> RecordedCall:
        """The first answered call from ``calls[after:]`` whose path fully matches the regex."""
        rx = re.compile(path_pattern)
        return await self.wait_until(lambda: next(
            (c for c in self.calls[after:] if c.method == method.upper() and rx.fullmatch(c.path) and c.status),
            None), timeout)

    @property
    def unhandled_calls(self) -> list[RecordedCall]:
        return [c for c in self.calls if c.route is None]

    # --- faults ---------------------------------------------------------------------------------------------

    def rate_limit_next(self, method: str, path_pattern: str, retry_after: float = 0.5, count: int = 1,
                        is_global: bool = False) -> None:
        def respond() -> tuple[int, Any, dict[str, str]]:
            # Discord's headers; discord.py treats a 429 without ``Via`` as a Cloudflare ban and raises.
            headers = {"Retry-After": str(retry_after), "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                       "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                       "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                       "X-RateLimit-Scope": "global" if is_global else "user"}
            if is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
            return 429, body, headers
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), count, respond))

    def fail_next(self, method: str, path_pattern: str, status: int = 502, count: int = 1) -> None:
        body = {"message": f"{status}: {'Bad Gateway' if status == 502 else 'Server Error'}", "code": 0}
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), count, lambda: (status, body, {})))

    # --- gateway --------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        conn = _Conn(ws, request)
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
            if self._live is conn:
                self._live = None
            # Discord ends a session when the client closes with 1000/1001; other codes keep it resumable.
            if ws.close_code in (1000, 1001) and conn.authed and self._live is None and not conn.dropped:
                self.session_id = None
            self._notify()
        return ws

    async def _on_op(self, conn: _Conn, payload: JSON) -> None:
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
        elif op == 8:  # request guild members: all of them fit one chunk
            await self.dispatch("GUILD_MEMBERS_CHUNK", {"guild_id": self.guild_id, "members": self._members(),
                                                        "chunk_index": 0, "chunk_count": 1, "not_found": [],
                                                        **({"nonce": d["nonce"]} if (d or {}).get("nonce") else {})})
        elif op in (3, 4):  # presence / voice state: accepted, recorded in received_ops
            pass
        else:
            await conn.ws.close(code=CLOSE_UNKNOWN_OP, message=b"Unknown opcode.")
        self._notify()

    async def _identify(self, conn: _Conn, d: JSON) -> None:
        self.identifies += 1
        self.identify_payloads.append(d)
        conn.authed = True
        async with self._send_lock:
            self.session_id, self.seq, self._log = uuid.uuid4().hex, 0, []
            if self._live is not None and self._live is not conn:
                self._live.ready = False
            self._live = conn
        await self.dispatch("READY", {
            "v": 10, "user": P.bot_user(self.bot_user_id, self.bot_name), "guilds": [
                {"id": self.guild_id, "unavailable": True}], "session_id": self.session_id,
            "resume_gateway_url": self.gateway_url, "session_type": "normal", "private_channels": [],
            "relationships": [], "user_settings": {}, "presences": [], "geo_ordered_rtc_regions": [],
            "guild_join_requests": [], "shard": [0, 1], "application": {"id": self.application_id, "flags": 0},
            "_trace": ["fake-discord"]})
        await self.dispatch("GUILD_CREATE", self.guild_payload())  # the guild READY listed as unavailable
        conn.ready = True

    async def _resume(self, conn: _Conn, d: JSON) -> None:
        if not self.session_id or d.get("session_id") != self.session_id or d.get("token") != self.token:
            await self._send(conn, {"op": 9, "d": False, "s": None, "t": None})  # not resumable: identify anew
            return
        self.resumes += 1
        conn.authed = True
        async with self._send_lock:  # replay and go live atomically, so no dispatch is lost or doubled
            since = d.get("seq") or 0
            for event in self._log:
                if event["s"] > since:
                    await self._send(conn, event)
            self.seq += 1
            await self._send(conn, {"op": 0, "t": "RESUMED", "s": self.seq, "d": {"_trace": ["fake-discord"]}})
            self._live, conn.ready = conn, True

    async def _send(self, conn: _Conn, payload: JSON) -> bool:
        try:
            await conn.ws.send_str(json.dumps(payload))  # text frames: discord.py only decompresses binary ones
            return True
        except (ConnectionError, RuntimeError):
            return False

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send a DISPATCH (op 0) in this session; if no connection is live it is replayed on RESUME."""
        async with self._send_lock:
            self.seq += 1
            payload = {"op": 0, "t": event, "s": self.seq, "d": data}
            self._log.append(payload)
            if self._live is not None and not await self._send(self._live, payload):
                self._live = None
        self._notify()
        return payload["s"]

    async def drop_connection(self, code: int = 4000, *, abort: bool = False) -> None:
        """End the live gateway connection the way a network fault or a Discord restart does; the session
        stays resumable. ``abort`` cuts the TCP connection without a close frame."""
        conn = self._live
        if conn is None:
            raise RuntimeError("no live gateway connection to drop")
        self._live = None
        conn.dropped = True
        if abort and conn.request.transport is not None:
            conn.request.transport.abort()
        else:
            await conn.ws.close(code=code, message=b"fake: connection dropped")
        self._notify()

    async def request_reconnect(self) -> None:
        """op 7 RECONNECT: the client should close and RESUME."""
        if self._live is not None:
            await self._send(self._live, {"op": 7, "d": None, "s": None, "t": None})

    async def invalidate_session(self, resumable: bool = False) -> None:
        """op 9 INVALID_SESSION on the live connection; unless ``resumable`` the client must IDENTIFY again."""
        conn = self._live
        if conn is not None:
            if not resumable:
                self.session_id, self._live = None, None
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
        if channel_id == self.channel_id:
            return P.text_channel(channel_id, self.guild_id, "releases")
        return next((c for c in self.dm_channels.values() if c["id"] == channel_id), None)

    def guild_payload(self) -> JSON:
        roles = [P.role(self.guild_id, "@everyone", position=0)] + [
            P.role(rid, name, position=i + 1) for i, (rid, name) in enumerate(self.roles.items())]
        return P.guild(self.guild_id, "Tower Test Guild", owner_id=next(iter(self.members), self.bot_user_id),
                       channels=[self._channel(self.channel_id)], roles=roles, members=self._members())

    # --- interactions ---------------------------------------------------------------------------------------

    def find_command(self, name: str, guild_id: str | None, cmd_type: int = 1) -> JSON | None:
        """A registered command as Discord resolves it: the guild's first, then the global one."""
        for scope in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == cmd_type:
                    return cmd
        return None

    async def send_interaction(self, *, user_id: str, name: str = "", options: list[JSON] | None = None,
                               kind: int = 2, custom_id: str | None = None, channel_id: str | None = None,
                               guild_id: str | None = None, dm: bool = False, component_type: int = 2,
                               values: list[str] | None = None, message_id: str | None = None,
                               permissions: str | None = None) -> Interaction:
        """Dispatch INTERACTION_CREATE as a user invoking something.

        kind 2 (command) / 4 (autocomplete): ``name`` may be "group sub" or "group sub leaf", ``options`` then
        are the leaf options ({"name", "value"[, "focused"]}; types come from the registered command), or
        give Discord's nested options yourself. The command must have been registered (synced) — Discord
        cannot deliver an unknown one. kind 3 (component): ``custom_id`` of a button (or a select with
        ``values``) on ``message_id``, by default the newest message carrying that custom_id."""
        guild = None if dm else (guild_id or self.guild_id)
        if dm:
            channel = await self._dm_channel(user_id)
        else:
            channel = self._channel(channel_id or self.channel_id) or P.text_channel(
                channel_id or self.channel_id, guild, "channel")
        if kind in (2, 4):
            data = self._command_data(name, options or [], guild)
            message_obj = None
        elif kind == 3:
            if custom_id is None:
                raise ValueError("a component interaction needs custom_id")
            data = {"custom_id": custom_id, "component_type": component_type}
            if values is not None:
                data["values"] = values
            message_obj = self._component_message(custom_id, message_id, channel["id"], guild)
            home = self._channel(message_obj["channel_id"])
            if channel_id is None and home is not None and ("guild_id" in home) == (guild is not None):
                channel = home  # the interaction happens where the message is
        else:
            raise ValueError(f"unsupported interaction kind {kind}")
        invoker = self._member(user_id) if guild else self._user(user_id)
        everyone = P.ALL_PERMISSIONS if user_id == self.bot_user_id else P.EVERYONE_PERMISSIONS
        interaction_id, token = self.ids.next(), "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(60)
        payload = P.interaction(interaction_id=interaction_id, app_id=self.application_id, kind=kind, token=token,
                                data=data, channel=channel, guild_id=guild, invoker=invoker,
                                permissions=permissions or everyone,
                                message_obj=json.loads(json.dumps(message_obj)) if message_obj else None)
        record = Interaction(interaction_id, token, payload, asyncio.get_running_loop().time())
        if kind == 3:
            record.original = message_obj  # @original of a component interaction is the message it sits on
        self.interactions[interaction_id] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _command_data(self, name: str, options: list[JSON], guild_id: str | None) -> JSON:
        root, *path = name.split()
        cmd = self.find_command(root, guild_id)
        if cmd is None:
            raise LookupError(f"/{root} is not registered for guild {guild_id} or globally; sync the tree first")
        schema, chain = cmd.get("options", []), []
        for part in path:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                raise LookupError(f"/{name}: {part!r} is not a subcommand of the registered command")
            chain.append(sub)
            schema = sub.get("options", [])
        leaf = []
        for opt in options:
            opt = dict(opt)
            if "type" not in opt:
                spec = next((o for o in schema if o["name"] == opt["name"]), None)
                if spec is None:
                    raise LookupError(f"/{name} has no option {opt['name']!r}")
                opt["type"] = spec["type"]
            leaf.append(opt)
        for sub in reversed(chain):  # wrap leaf options in their subcommand, then the group
            leaf = [{"type": sub["type"], "name": sub["name"], "options": leaf}]
        data: JSON = {"id": cmd["id"], "name": root, "type": 1, "options": leaf}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]  # discord.py looks guild commands up by this
        resolved = self._resolved(leaf)
        if resolved:
            data["resolved"] = resolved
        return data

    def _resolved(self, options: list[JSON]) -> JSON:
        out: JSON = {}
        for opt in options:
            if opt["type"] in (1, 2):
                for key, value in self._resolved(opt.get("options", [])).items():
                    out.setdefault(key, {}).update(value)
            elif opt["type"] in (6, 9) and str(opt["value"]) not in self.roles:  # user (or mentionable user)
                uid = str(opt["value"])
                out.setdefault("users", {})[uid] = self._user(uid)
                m = {k: v for k, v in self._member(uid).items() if k != "user"}
                out.setdefault("members", {})[uid] = {**m, "permissions": P.EVERYONE_PERMISSIONS}
            elif opt["type"] in (8, 9):
                rid = str(opt["value"])
                out.setdefault("roles", {})[rid] = P.role(rid, self.roles.get(rid, "role"), position=1)
            elif opt["type"] == 7 and (ch := self._channel(str(opt["value"]))):
                out.setdefault("channels", {})[ch["id"]] = {**ch, "permissions": P.ALL_PERMISSIONS}
        return out

    def _component_message(self, custom_id: str, message_id: str | None, channel_id: str, guild: str | None) -> JSON:
        candidates = [m for ms in self.messages.values() for m in ms] + [
            m for i in self.interactions.values() for m in ([i.original] if i.original else []) + i.followups]
        needle = f'"custom_id": {json.dumps(custom_id)}'
        for msg in sorted(candidates, key=lambda m: int(m["id"]), reverse=True):
            if msg["id"] == message_id or (message_id is None and needle in json.dumps(msg["components"])):
                return msg
        button = {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}
        return P.message(message_id=message_id or self.ids.next(), channel_id=channel_id, author=self.bot,
                         guild_id=guild, body={"content": "", "components": [{"type": 1, "components": [button]}]})

    async def _dm_channel(self, user_id: str) -> JSON:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = P.dm_channel(self.ids.next(), self._user(user_id))
        return self.dm_channels[user_id]

    # --- REST -----------------------------------------------------------------------------------------------


    def _route_table(self) -> list[tuple[str, re.Pattern[str], bool, dict[str, Callable[..., Any]]]]:
        """(name, path regex, needs the bot token, handlers by method). Interaction endpoints are
        authenticated by the interaction token in the path, as on Discord (discord.py sends no header)."""
        cmds = r"/applications/(?P<app>\d+)(?:/guilds/(?P<guild>\d+))?/commands"
        hook = r"/webhooks/(?P<app>\d+)/(?P<token>[^/]+)"
        table = [
            ("me", r"/users/@me", True, {"GET": self._get_me}),
            ("gateway", r"/gateway", False, {"GET": self._get_gateway}),
            ("gateway_bot", r"/gateway/bot", True, {"GET": self._get_gateway}),
            ("app", r"/oauth2/applications/@me", True, {"GET": self._get_app}),
            ("commands", cmds, True, {"GET": self._list_commands, "PUT": self._put_commands,
                                      "POST": self._post_command}),
            ("command", cmds + r"/(?P<cid>\d+)", True, {"GET": self._command, "PATCH": self._command,
                                                        "DELETE": self._command}),
            ("callback", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", False, {"POST": self._callback}),
            ("followup", hook, False, {"POST": self._followup}),
            ("webhook_message", hook + r"/messages/(?P<mid>@original|\d+)", False,
             {"GET": self._webhook_message, "PATCH": self._webhook_message, "DELETE": self._webhook_message}),
            ("channel", r"/channels/(?P<cid>\d+)", True, {"GET": self._get_channel}),
            ("messages", r"/channels/(?P<cid>\d+)/messages", True, {"POST": self._post_message}),
            ("message", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", True,
             {"GET": self._channel_message, "PATCH": self._channel_message, "DELETE": self._channel_message}),
            ("dm", r"/users/@me/channels", True, {"POST": self._create_dm}),
        ]
        return [(name, re.compile(rx), auth, handlers) for name, rx, auth, handlers in table]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._read_body(request)
        call = RecordedCall(request.method, "/" + request.match_info["tail"], dict(request.query), body,
                            CIMultiDict(request.headers), files, asyncio.get_running_loop().time())
        self.calls.append(call)
        status, data, headers = await self._answer(call, request.match_info["version"])
        call.status, call.response = status, data
        self._notify()
        base = {"Via": "1.1 google", "X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49",
                "X-RateLimit-Reset": f"{time.time() + 1:.3f}", "X-RateLimit-Reset-After": "1.000",
                "X-RateLimit-Bucket": f"fake-{call.route}"}  # one bucket per endpoint, as discord.py expects
        if status == 204:
            return web.Response(status=204, headers={**base, **headers})
        # Exactly "application/json", as Discord sends: discord.py compares the whole header and treats
        # anything else (e.g. "; charset=utf-8") as a text body.
        return web.Response(body=json.dumps(data).encode(), status=status,
                            headers={**base, **headers, "Content-Type": "application/json"})

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, str, bytes]]]:
        if request.content_type.startswith("multipart/"):  # messages with files: JSON is in payload_json
            body, files = None, []
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                else:
                    files.append((part.name or "", part.filename or "", bytes(await part.read())))
            return body, files
        raw = await request.read()
        return (json.loads(raw) if raw else None), []

    async def _answer(self, call: RecordedCall, version: str) -> tuple[int, Any, dict[str, str]]:
        if version != "v10":
            return 400, {"message": "Invalid API version", "code": 50041}, {}
        for name, rx, auth, handlers in self._routes:
            match = rx.fullmatch(call.path)
            if match is None:
                continue
            call.route = name
            if call.method not in handlers:
                return 405, {"message": "405: Method Not Allowed", "code": 0}, {}
            if auth and call.headers.get("Authorization") != f"Bot {self.token}":
                return 401, {"message": "401: Unauthorized", "code": 0}, {}
            for fault in self._faults:
                if fault.count > 0 and fault.method == call.method and fault.pattern.fullmatch(call.path):
                    fault.count -= 1
                    return fault.respond()
            status, data = await handlers[call.method](call, **{k: v for k, v in match.groupdict().items()})
            return status, data, {}
        return 404, {"message": "404: Not Found", "code": 0}, {}

    @staticmethod
    def _error(status: int, code: int, message: str) -> tuple[int, JSON]:
        return status, {"message": message, "code": code}

    # users, gateway, application

    async def _get_me(self, call: RecordedCall) -> tuple[int, Any]:
        return 200, P.bot_user(self.bot_user_id, self.bot_name)

    async def _get_gateway(self, call: RecordedCall) -> tuple[int, Any]:
        data: JSON = {"url": self.gateway_url}
        if call.route == "gateway_bot":
            data.update(shards=1, session_start_limit={"total": 1000, "remaining": 999, "reset_after": 14400000,
                                                       "max_concurrency": 1})
        return 200, data

    async def _get_app(self, call: RecordedCall) -> tuple[int, Any]:
        owner = self._user(next(iter(self.members), self.bot_user_id))
        return 200, {**P.app_info(self.application_id, self.bot_name, owner), "bot": self.bot}

    # application commands

    def _command_scope(self, app: str, guild: str | None) -> tuple[int, JSON] | None:
        if app != self.application_id or (guild is not None and guild != self.guild_id):
            return self._error(403, 50001, "Missing Access")
        return None

    def _store_commands(self, guild: str | None, body: list[JSON]) -> list[JSON]:
        """Discord's bulk overwrite: same (name, type) keeps its id; a new version either way."""
        existing = {(c["name"], c["type"]): c["id"] for c in self.commands.get(guild, [])}
        version = self.ids.next()
        stored = [P.assign_command(c, command_id=existing.get((c["name"], c.get("type", 1))) or self.ids.next(),
                                   app_id=self.application_id, guild_id=guild, version=version) for c in body]
        self.commands[guild] = stored
        return stored

    async def _list_commands(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        return self._command_scope(app, guild) or (200, self.commands.get(guild, []))

    async def _put_commands(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        if not isinstance(call.json, list):
            return 400, P.form_error(P.field_error("MODEL_TYPE_CONVERT", "Only iterables may be used in a ListType"))
        if errors := P.command_errors(call.json):
            return 400, P.form_error(errors)
        return 200, self._store_commands(guild, call.json)

    async def _post_command(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        if errors := P.command_errors([call.json]):
            return 400, P.form_error(errors["0"] if "0" in errors else errors)
        others = [c for c in self.commands.get(guild, []) if (c["name"], c["type"]) != (
            call.json["name"], call.json.get("type", 1))]
        is_new = len(others) == len(self.commands.get(guild, []))
        stored = self._store_commands(guild, others + [call.json])
        return (201 if is_new else 200), stored[-1]

    async def _command(self, call: RecordedCall, app: str, guild: str | None, cid: str) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        scope = self.commands.get(guild, [])
        cmd = next((c for c in scope if c["id"] == cid), None)
        if cmd is None:
            return self._error(404, 10063, "Unknown application command")
        if call.method == "DELETE":
            self.commands[guild] = [c for c in scope if c is not cmd]
            return 204, None
        if call.method == "PATCH":
            cmd.update({k: v for k, v in (call.json or {}).items() if k != "id"}, version=self.ids.next())
        return 200, cmd

    # interactions

    def _interaction_message(self, rec: Interaction, body: JSON, *, loading: bool = False) -> JSON:
        kind = rec.payload["type"]
        invoker = rec.payload.get("member", {}).get("user") or rec.payload.get("user")
        meta = {"id": rec.id, "type": kind, "user": invoker,
                "authorizing_integration_owners": rec.payload["authorizing_integration_owners"]}
        if kind == 2:
            meta.update(name=rec.payload["data"]["name"], command_type=1)
        else:
            meta["interacted_message_id"] = rec.payload.get("message", {}).get("id")
        msg = P.message(message_id=self.ids.next(), channel_id=rec.payload["channel_id"], author=self.bot, body=body,
                        guild_id=rec.payload.get("guild_id"), msg_type=20 if kind == 2 else 0,
                        extra={"webhook_id": self.application_id, "application_id": self.application_id,
                               "interaction_metadata": meta})
        if loading:
            msg["flags"] |= 128
        return msg

    async def _callback(self, call: RecordedCall, iid: str, token: str) -> tuple[int, Any]:
        rec = self.interactions.get(iid)
        late = rec is not None and self.ack_timeout is not None and call.at - rec.dispatched_at > self.ack_timeout
        if rec is None or rec.token != token or (late and not rec.callbacks):
            return self._error(404, 10062, "Unknown interaction")  # also what a response after 3 s gets
        if rec.callbacks:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        body = call.json or {}
        rtype, data = body.get("type"), body.get("data") or {}
        allowed = {2: {4, 5, 9, 12}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[rec.payload["type"]]
        if rtype not in allowed:
            return 400, P.form_error({"type": P.field_error("INTERACTION_RESPONSE_TYPE_INVALID",
                                                            "Interaction response type is invalid.")})
        if rtype in (4, 7) and (err := P.message_error(data)):
            return 400, err
        if rtype == 4 and P.empty_message(data, attachments=len(call.files)):
            return self._error(400, 50006, "Cannot send an empty message")
        if rtype == 8 and len(data.get("choices") or []) > 25:
            return 400, P.form_error({"data": {"choices": P.field_error("BASE_TYPE_MAX_LENGTH",
                                                                        "Must be 25 or fewer in length.")}})
        rec.callbacks.append(body)
        if rtype in (4, 5):
            rec.original = self._interaction_message(rec, data, loading=rtype == 5)
        elif rtype == 7 and rec.original is not None:
            P.edit_message(rec.original, data)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        result: JSON = {"interaction": {"id": rec.id, "type": rec.payload["type"]}}
        if rtype in (4, 5, 7) and rec.original is not None:
            result["interaction"].update(response_message_id=rec.original["id"], response_message_loading=rtype == 5,
                                         response_message_ephemeral=bool(rec.original["flags"] & 64))
            result["resource"] = {"type": rtype, "message": rec.original}
        elif rtype != 8:
            result["resource"] = {"type": rtype}
        return 200, result

    def _hook_interaction(self, app: str, token: str) -> Interaction | None:
        if app != self.application_id:
            return None
        return next((i for i in self.interactions.values() if i.token == token), None)

    async def _followup(self, call: RecordedCall, app: str, token: str) -> tuple[int, Any]:
        rec = self._hook_interaction(app, token)
        if rec is None or not rec.callbacks:  # the token works only once the interaction is acknowledged
            return self._error(404, 10015, "Unknown Webhook")
        body = call.json or {}
        if err := P.message_error(body):
            return 400, err
        if P.empty_message(body, attachments=len(call.files)):
            return self._error(400, 50006, "Cannot send an empty message")
        if rec.original is not None and rec.original["flags"] & 128 and rec.response_type == 5:
            # Discord: the first follow-up after a "thinking" defer replaces the loading message; it keeps
            # the defer's visibility (ephemeral or not), whatever flags the follow-up asks for.
            msg = P.edit_message(rec.original, {k: v for k, v in body.items() if k != "flags"})
        else:
            msg = self._interaction_message(rec, body)
        rec.followups.append(msg)
        wait = call.query.get("wait", "").lower() in ("1", "true")
        return (200, msg) if wait else (204, None)

    async def _webhook_message(self, call: RecordedCall, app: str, token: str, mid: str) -> tuple[int, Any]:
        rec = self._hook_interaction(app, token)
        if rec is None:
            return self._error(404, 10015, "Unknown Webhook")
        if mid == "@original":
            msg = rec.original
        else:
            msg = next((m for m in rec.followups if m["id"] == mid), None)
            msg = msg or (rec.original if rec.original and rec.original["id"] == mid else None)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        if call.method == "DELETE":
            if msg is rec.original:
                rec.original = None
            rec.followups = [m for m in rec.followups if m is not msg]
            return 204, None
        if call.method == "PATCH":
            body = call.json or {}
            if err := P.message_error(body):
                return 400, err
            if mid == "@original":
                rec.edits.append(body)
            P.edit_message(msg, body)
        return 200, msg

    # channels and messages

    async def _get_channel(self, call: RecordedCall, cid: str) -> tuple[int, Any]:
        channel = self._channel(cid)
        return (200, channel) if channel else self._error(404, 10003, "Unknown Channel")

    async def _create_dm(self, call: RecordedCall) -> tuple[int, Any]:
        recipient = str((call.json or {}).get("recipient_id", ""))
        if not recipient.isdigit():
            return 400, P.form_error({"recipient_id": P.field_error("NUMBER_TYPE_COERCE", "Value is not snowflake.")})
        return 200, await self._dm_channel(recipient)

    async def _post_message(self, call: RecordedCall, cid: str) -> tuple[int, Any]:
        channel = self._channel(cid)
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        body = call.json or {}
        if err := P.message_error(body):
            return 400, err
        if P.empty_message(body, attachments=len(call.files)):
            return self._error(400, 50006, "Cannot send an empty message")
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):  # a retried send returns the message already made
            for msgs in self.messages.values():
                for msg in msgs:
                    if msg.get("nonce") == str(nonce) and msg["author"]["id"] == self.bot_user_id:
                        return 200, msg
        guild = channel.get("guild_id")
        msg = P.message(message_id=self.ids.next(), channel_id=cid, author=self.bot, body=body, guild_id=guild)
        if nonce is not None:
            msg["nonce"] = str(nonce)
        self.messages.setdefault(cid, []).append(msg)
        intents = (self.identify_payloads[-1].get("intents") or 0) if self.identify_payloads else 0
        if intents & (1 << 9 if guild else 1 << 12):  # GUILD_MESSAGES / DIRECT_MESSAGES
            event = dict(msg)
            if guild:
                event["member"] = {k: v for k, v in self._member(self.bot_user_id).items() if k != "user"}
            await self.dispatch("MESSAGE_CREATE", event)
        return 200, msg

    async def _channel_message(self, call: RecordedCall, cid: str, mid: str) -> tuple[int, Any]:
        msgs = self.messages.get(cid, [])
        msg = next((m for m in msgs if m["id"] == mid), None)
        if msg is None:
            return self._error(404, 10008, "Unknown Message")
        if call.method == "DELETE":
            msgs.remove(msg)
            return 204, None
        if call.method == "PATCH":
            if err := P.message_error(call.json or {}):
                return 400, err
            P.edit_message(msg, call.json or {})
        return 200, msg
