"""Socket Mode for the fake Slack: `apps.connections.open` on the Web API, and a websocket at
/link/ that says hello, sends envelopes (slash commands, button clicks) and records the acks.

The websocket lives on a second server (FakeSlackSocketMode, composed); only the Web API method
needs the subclass FakeSlackWithSocketMode, because FakeSlack accepts nothing but the bot token.

The real slack_sdk SocketModeClient (behind bolt's AsyncSocketModeHandler) connects to it:
apps.connections.open with the xapp- token as Bearer, ws_connect to the returned URL, an ack
`{"envelope_id": ...}` per envelope, and a fresh apps.connections.open + connection on
`{"type": "disconnect"}` or when the server closes the socket.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from tests.fakes.local_server import LocalServer
from tests.fakes.slack_calls import RecordedCall, _err
from tests.fakes.slack_requests import API_APP_ID, FORM, block_action_body, slash_command_body
from tests.fakes.slack_server import FakeSlack

APP_TOKEN = "xapp-1-A0TOWERAPP-1-fakeapptoken"
ACK_TIMEOUT = 3.0  # Slack's limit: an envelope not acked within 3 s is shown to the user as failed


@dataclass
class SocketConnection:
    number: int  # 1 for the first connection, 2 after one reconnect, ...
    ws: web.WebSocketResponse
    received: list[dict] = field(default_factory=list)  # every text message the client sent, parsed
    pings: int = 0

    @property
    def open(self) -> bool:
        return not self.ws.closed


class FakeSlackSocketMode(LocalServer):
    """The Socket Mode side of a running FakeSlack (its waits, calls and response_urls)."""

    def __init__(self, web_api: FakeSlack, *, app_id: str = API_APP_ID):
        super().__init__()
        self.web_api, self.app_id = web_api, app_id
        self.connections: list[SocketConnection] = []
        self.sent: list[dict] = []  # every envelope sent, in order
        self.acks: dict[str, dict] = {}  # envelope_id -> the client's ack
        self.rejected_tickets = 0
        self._tickets: set[str] = set()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/link/", self._link)

    async def stop(self) -> None:
        for conn in self.connections:
            if conn.open:
                await conn.ws.close(code=1001)
        await super().stop()

    def issue_url(self) -> str:
        """A single-use websocket URL, as apps.connections.open returns (ws://, not wss://: no TLS here)."""
        assert self.base_url, "start() first"
        ticket = secrets.token_hex(16)
        self._tickets.add(ticket)
        return f"{self.base_url.replace('http', 'ws', 1)}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- test controls -----------------------------------------------------------------------
    @property
    def open_connections(self) -> list[SocketConnection]:
        return [c for c in self.connections if c.open]

    async def wait_for_connection(self, number: int = 1, timeout: float = 10) -> SocketConnection:
        """The number-th connection, once it is open (or was: it may have closed since)."""
        return await self.web_api._wait_until(
            lambda: self.connections[number - 1] if len(self.connections) >= number else None,
            timeout,
            f"Socket Mode connection #{number} (seen {len(self.connections)})",
        )

    async def send_envelope(
        self,
        kind: str,
        payload: dict,
        *,
        accepts_response_payload: bool,
        timeout: float = ACK_TIMEOUT,
        connect_timeout: float = 10,
    ) -> dict:
        """Send on the newest open connection; return the client's ack, which must come within timeout."""
        conn = await self.web_api._wait_until(
            lambda: next(reversed(self.open_connections), None), connect_timeout, "an open Socket Mode connection"
        )
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        self.sent.append(envelope)
        await conn.ws.send_json(envelope)
        return await self.web_api._wait_until(
            lambda: self.acks.get(envelope_id),
            timeout,
            f"ack of {kind} envelope {envelope_id} on connection #{conn.number}",
        )

    async def send_slash_command(
        self, *, command: str, text: str, user_id: str, channel_id: str, response_url: str, **extra: Any
    ) -> dict:
        # Socket Mode carries the same fields as the HTTP form, all strings, as a JSON object.
        body = slash_command_body(
            command=command, text=text, user_id=user_id, channel_id=channel_id, response_url=response_url, **extra
        )
        payload = dict(parse_qsl(body, keep_blank_values=True))
        return await self.send_envelope("slash_commands", payload, accepts_response_payload=True)

    async def send_block_action(
        self,
        *,
        value: str,
        user_id: str,
        channel_id: str,
        response_url: str,
        action_id: str = "tower_run_0",
        **extra: Any,
    ) -> dict:
        body = block_action_body(
            action_id=action_id, value=value, user_id=user_id, channel_id=channel_id, response_url=response_url, **extra
        )
        payload = json.loads(dict(parse_qsl(body))["payload"])
        # Slack takes no response payload in a block_actions ack; bolt acks the same either way.
        return await self.send_envelope("interactive", payload, accepts_response_payload=False)

    async def disconnect(self, reason: str | None = "refresh_requested") -> None:
        """With a reason: Slack's `disconnect` message, which asks the client to reconnect (the old
        socket stays open until the client closes it). With None: close the socket from this end."""
        for conn in self.open_connections:
            if reason is None:
                await conn.ws.close(code=1001, message=b"going away")
            else:
                await conn.ws.send_json(
                    {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}
                )

    # -- the websocket -----------------------------------------------------------------------
    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:  # unknown or already used
            self.rejected_tickets += 1
            return web.json_response(_err("invalid_ticket"), status=401)
        self._tickets.discard(ticket)
        # Pings are answered (and counted) below; a short close timeout keeps stop() bounded.
        ws = web.WebSocketResponse(autoping=False, timeout=2.0)
        await ws.prepare(request)
        conn = SocketConnection(len(self.connections) + 1, ws)
        self.connections.append(conn)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.open_connections),
                "connection_info": {"app_id": self.app_id},
                "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            }
        )
        self.web_api._notify()
        try:
            async for msg in ws:
                if msg.type == WSMsgType.PING:
                    conn.pings += 1
                    await ws.pong(msg.data)
                elif msg.type == WSMsgType.TEXT:
                    data = json.loads(msg.data)
                    conn.received.append(data)
                    if isinstance(data, dict) and data.get("envelope_id"):
                        self.acks.setdefault(data["envelope_id"], data)
                    self.web_api._notify()
        finally:
            self.web_api._notify()
        return ws


class FakeSlackWithSocketMode(FakeSlack):
    """FakeSlack plus apps.connections.open and its websocket server (`.socket`)."""

    def __init__(self, *, app_token: str = APP_TOKEN, **kwargs: Any):
        super().__init__(**kwargs)
        self.app_token = app_token
        self.socket = FakeSlackSocketMode(self)

    async def start(self) -> None:
        await super().start()
        await self.socket.start()

    async def stop(self) -> None:
        await self.socket.stop()
        await super().stop()

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["method"] != "apps.connections.open":
            return await super()._handle_api(request)
        # FakeSlack's dispatch rejects any token but the bot's, so this method is answered here.
        params: dict[str, Any] = dict(request.query)
        if request.content_type == FORM:
            params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
        call = RecordedCall("apps.connections.open", params, dict(request.headers), time.monotonic(), request.method)
        self.calls.append(call)
        token = call.token
        status, headers, fault = 200, {}, self._take_fault(call.method)
        if fault and fault[0] == "ratelimit":
            status, headers, body = 429, {"Retry-After": str(int(fault[1]))}, _err("ratelimited")
        elif fault and fault[0] == "fail":
            status, body = int(fault[1]), _err("service_unavailable")
        elif not token:
            body = _err("not_authed")
        elif not token.startswith("xapp-"):
            body = _err("not_allowed_token_type")  # what Slack says to a bot token here
        elif token != self.app_token:
            body = _err("invalid_auth")
        else:
            body = {"ok": True, "url": self.socket.issue_url()}
        call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status, headers=headers)
