"""The REST API of the local Discord: the endpoints discord.py calls, mixed into ``FakeDiscord``.

Every request is recorded as a ``RecordedCall`` and answered as Discord would: routes, bot-token auth, API
version, rate-limit headers and injected faults, application commands, interaction callbacks and webhooks,
channel messages and DMs. The guild, the gateway and the interactions the fake dispatches are in
``discord_server``."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes import discord_payloads as P
from tests.fakes import discord_validation as V
from tests.fakes.discord_app_commands import DiscordAppCommands
from tests.fakes.discord_records import JSON, Interaction, RecordedCall


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    count: int
    respond: Callable[[], tuple[int, Any, dict[str, str]]]


class DiscordRest(DiscordAppCommands):
    """The REST half of ``FakeDiscord``, which mixes it in. It owns ``calls`` and the injected faults; what
    else it reads and changes is FakeDiscord's, shared with the gateway side: the bot and guild settings
    (``guild_channels``, ``recommended_shards``, ``max_concurrency``),
    ``ids``, ``commands``, ``messages``, ``interactions``, ``identify_payloads``, and ``_user``, ``_member``,
    ``_channel``, ``_dm_channel``, ``dispatch``, ``wait_until`` and ``_notify``."""

    def __init__(self) -> None:
        super().__init__()  # FakeDiscord's next base, LocalServer
        self.calls: list[RecordedCall] = []
        self._faults: list[_Fault] = []
        self._routes = self._route_table()

    # --- recorded calls -------------------------------------------------------------------------------------

    async def wait_for_call(self, method: str, path_pattern: str, timeout: float = 10, after: int = 0) -> RecordedCall:
        """The first answered call from ``calls[after:]`` whose path fully matches the regex."""
        rx = re.compile(path_pattern)
        return await self.wait_until(
            lambda: next(
                (c for c in self.calls[after:] if c.method == method.upper() and rx.fullmatch(c.path) and c.status),
                None,
            ),
            timeout,
        )

    @property
    def unhandled_calls(self) -> list[RecordedCall]:
        return [c for c in self.calls if c.route is None]

    # --- faults ---------------------------------------------------------------------------------------------

    def rate_limit_next(
        self, method: str, path_pattern: str, retry_after: float = 0.5, count: int = 1, is_global: bool = False
    ) -> None:
        def respond() -> tuple[int, Any, dict[str, str]]:
            # Discord's headers; discord.py treats a 429 without ``Via`` as a Cloudflare ban and raises.
            headers = {
                "Retry-After": str(retry_after),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Scope": "global" if is_global else "user",
            }
            if is_global:
                headers["X-RateLimit-Global"] = "true"
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}
            return 429, body, headers

        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), count, respond))

    def fail_next(self, method: str, path_pattern: str, status: int = 502, count: int = 1) -> None:
        body = {"message": f"{status}: {'Bad Gateway' if status == 502 else 'Server Error'}", "code": 0}
        self._faults.append(_Fault(method.upper(), re.compile(path_pattern), count, lambda: (status, body, {})))

    # --- routing --------------------------------------------------------------------------------------------

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
            (
                "commands",
                cmds,
                True,
                {"GET": self._list_commands, "PUT": self._put_commands, "POST": self._post_command},
            ),
            (
                "command",
                cmds + r"/(?P<cid>\d+)",
                True,
                {"GET": self._command, "PATCH": self._command, "DELETE": self._command},
            ),
            ("callback", r"/interactions/(?P<iid>\d+)/(?P<token>[^/]+)/callback", False, {"POST": self._callback}),
            ("followup", hook, False, {"POST": self._followup}),
            (
                "webhook_message",
                hook + r"/messages/(?P<mid>@original|\d+)",
                False,
                {"GET": self._webhook_message, "PATCH": self._webhook_message, "DELETE": self._webhook_message},
            ),
            ("channel", r"/channels/(?P<cid>\d+)", True, {"GET": self._get_channel}),
            ("messages", r"/channels/(?P<cid>\d+)/messages", True, {"POST": self._post_message}),
            (
                "message",
                r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)",
                True,
                {"GET": self._channel_message, "PATCH": self._channel_message, "DELETE": self._channel_message},
            ),
            ("dm", r"/users/@me/channels", True, {"POST": self._create_dm}),
        ]
        return [(name, re.compile(rx), auth, handlers) for name, rx, auth, handlers in table]

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body, files = await self._read_body(request)
        call = RecordedCall(
            request.method,
            "/" + request.match_info["tail"],
            dict(request.query),
            body,
            CIMultiDict(request.headers),
            files,
            asyncio.get_running_loop().time(),
        )
        self.calls.append(call)
        status, data, headers = await self._answer(call, request.match_info["version"])
        call.status, call.response = status, data
        self._notify()
        base = {
            "Via": "1.1 google",
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": "49",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Bucket": f"fake-{call.route}",
        }  # one bucket per endpoint, as discord.py expects
        if status == 204:
            return web.Response(status=204, headers={**base, **headers})
        # Exactly "application/json", as Discord sends: discord.py compares the whole header and treats
        # anything else (e.g. "; charset=utf-8") as a text body.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            headers={**base, **headers, "Content-Type": "application/json"},
        )

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
            status, data = await handlers[call.method](call, **dict(match.groupdict().items()))
            return status, data, {}
        return 404, {"message": "404: Not Found", "code": 0}, {}

    # users, gateway, application

    async def _get_me(self, call: RecordedCall) -> tuple[int, Any]:
        return 200, P.bot_user(self.bot_user_id, self.bot_name)

    async def _get_gateway(self, call: RecordedCall) -> tuple[int, Any]:
        data: JSON = {"url": self.gateway_url}
        if call.route == "gateway_bot":
            data.update(
                shards=self.recommended_shards,
                session_start_limit={
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": self.max_concurrency,
                },
            )
        return 200, data

    async def _get_app(self, call: RecordedCall) -> tuple[int, Any]:
        owner = self._user(next(iter(self.members), self.bot_user_id))
        return 200, {**P.app_info(self.application_id, self.bot_name, owner), "bot": self.bot}

    # interactions

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
            return 400, V.form_error(
                {"type": V.field_error("INTERACTION_RESPONSE_TYPE_INVALID", "Interaction response type is invalid.")}
            )
        if rtype in (4, 7) and (err := V.message_error(data)):
            return 400, err
        if rtype == 4 and V.empty_message(data, attachments=len(call.files)):
            return self._error(400, 50006, "Cannot send an empty message")
        if rtype == 8 and len(data.get("choices") or []) > 25:
            return 400, V.form_error(
                {"data": {"choices": V.field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}}
            )
        rec.callbacks.append(body)
        if rtype in (4, 5):
            rec.original = P.interaction_message(
                rec.payload, message_id=self.ids.next(), author=self.bot, body=data, loading=rtype == 5
            )
        elif rtype == 7 and rec.original is not None:
            P.edit_message(rec.original, data)
        if call.query.get("with_response", "").lower() not in ("1", "true"):
            return 204, None
        result: JSON = {"interaction": {"id": rec.id, "type": rec.payload["type"]}}
        if rtype in (4, 5, 7) and rec.original is not None:
            result["interaction"].update(
                response_message_id=rec.original["id"],
                response_message_loading=rtype == 5,
                response_message_ephemeral=bool(rec.original["flags"] & 64),
            )
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
        if err := V.message_error(body):
            return 400, err
        if V.empty_message(body, attachments=len(call.files)):
            return self._error(400, 50006, "Cannot send an empty message")
        if rec.original is not None and rec.original["flags"] & 128 and rec.response_type == 5:
            # Discord: the first follow-up after a "thinking" defer replaces the loading message; it keeps
            # the defer's visibility (ephemeral or not), whatever flags the follow-up asks for.
            msg = P.edit_message(rec.original, {k: v for k, v in body.items() if k != "flags"})
        else:
            msg = P.interaction_message(rec.payload, message_id=self.ids.next(), author=self.bot, body=body)
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
            if err := V.message_error(body):
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
            return 400, V.form_error({"recipient_id": V.field_error("NUMBER_TYPE_COERCE", "Value is not snowflake.")})
        return 200, await self._dm_channel(recipient)

    async def _post_message(self, call: RecordedCall, cid: str) -> tuple[int, Any]:
        channel = self._channel(cid)
        if channel is None:
            return self._error(404, 10003, "Unknown Channel")
        body = call.json or {}
        if err := V.message_error(body):
            return 400, err
        if V.empty_message(body, attachments=len(call.files)):
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
            if err := V.message_error(call.json or {}):
                return 400, err
            P.edit_message(msg, call.json or {})
        return 200, msg
