"""A fake Slack on 127.0.0.1: the Web API (/api/<method>) and response_url endpoints (/response/<id>).
What Slack sends to the app under test (signed slash commands, button clicks) is in `slack_requests`.

The real slack_sdk / slack_bolt clients talk to it over HTTP, so tests exercise the wire protocol
(auth headers, form vs JSON bodies, 429 + Retry-After, response_url limits), not our assumptions.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.local_server import LocalServer
from tests.fakes.slack_calls import RecordedCall, _err, _flag, _maybe_json, _ResponseUrl
from tests.fakes.slack_requests import API_APP_ID, FORM, TEAM_DOMAIN

RESPONSE_URL_MAX_USES = 5  # Slack: a response_url takes at most 5 posts...
RESPONSE_URL_TTL = 30 * 60  # ...within 30 minutes


class FakeSlack(LocalServer):
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test-token",
        team_id: str = "T0TOWER01",
        bot_user_id: str = "U0TOWERBOT",
        response_url_ttl: float = RESPONSE_URL_TTL,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self.bot_token, self.team_id, self.bot_user_id = bot_token, team_id, bot_user_id
        self.bot_id = "B0TOWERBOT"
        self.response_url_ttl, self._clock = response_url_ttl, clock
        self.calls: list[RecordedCall] = []
        self.responses: dict[str, list[dict]] = {}
        self.messages: dict[str, list[dict]] = {}
        self.ephemerals: list[dict] = []
        self.views: list[dict] = []
        self.users: dict[str, dict] = {}
        self.add_user(bot_user_id, name="tower", is_bot=True)
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._faults: dict[str, list[tuple[str, float]]] = {}
        self._channel_ids: dict[str, str] = {}
        self._last_ts = 0.0
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._methods: dict[str, Callable[[dict], dict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.update": self._update,
            "chat.delete": self._delete,
            "conversations.open": self._open,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "users.info": self._users_info,
            "views.open": self._view,
            "views.publish": self._view,
        }

    # -- lifecycle ---------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_route("*", "/via/{via}/api/{method}", self._handle_api)
        app.router.add_post("/response/{rid}", self._handle_response_url)

    @property
    def api_url(self) -> str:
        assert self.base_url, "FakeSlack.start() first"
        return f"{self.base_url}/api/"

    def api_url_for(self, name: str) -> str:
        """The API under another address, so that calls say which client (replica) made them."""
        assert self.base_url, "FakeSlack.start() first"
        return f"{self.base_url}/via/{name}/api/"

    # -- test controls -----------------------------------------------------------------------
    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method]

    async def wait_for_call(self, method: str, timeout: float = 10, after: int = 0) -> RecordedCall:
        """The (after+1)-th call to `method` (rate-limited and failed attempts count), returned on
        arrival, so its status may still be None. Pass after=len(calls_to(method)) to await a new one."""

        def check():
            found = self.calls_to(method)
            return found[after] if len(found) > after else None

        return await self._wait_until(check, timeout, f"call #{after + 1} to {method}")

    def new_response_url(self) -> str:
        assert self.base_url, "FakeSlack.start() first"
        rid = f"{next(self._ids)}{secrets.token_hex(6)}"
        self._response_urls[rid] = _ResponseUrl(created=self._clock())
        self.responses[rid] = []
        return f"{self.base_url}/response/{rid}"

    def expire_response_url(self, url: str) -> None:
        self._response_urls[self.response_id(url)].expired = True

    @staticmethod
    def response_id(url: str) -> str:
        return url.rstrip("/").rsplit("/", 1)[-1]

    async def wait_for_response(self, url: str, timeout: float = 10, count: int = 1) -> list[dict]:
        bodies = self.responses[self.response_id(url)]
        return await self._wait_until(
            lambda: list(bodies) if len(bodies) >= count else None, timeout, f"{count} post(s) to {url}"
        )

    def add_user(self, user_id: str, *, name: str = "someone", **fields: Any) -> dict:
        profile = {"real_name": fields.pop("real_name", name.title()), "display_name": name}
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "is_bot": False,
            "tz": "Europe/London",
            "tz_offset": 0,
            "profile": profile,
            **fields,
        }
        user["real_name"] = profile["real_name"]
        self.users[user_id] = user
        return user

    # Faults queue per method, in the order set; method "response_url" targets response_url posts.
    def rate_limit_next(self, method: str, retry_after: int = 1, count: int = 1) -> None:
        self._faults.setdefault(method, []).extend([("ratelimit", retry_after)] * count)

    def fail_next(self, method: str, status: int = 503, count: int = 1) -> None:
        self._faults.setdefault(method, []).extend([("fail", status)] * count)

    def delay_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Answer late, AFTER acting on the call (the message is posted, the client times out)."""
        self._faults.setdefault(method, []).extend([("delay", seconds)] * count)

    def hold_next(self, method: str, seconds: float, count: int = 1) -> None:
        """Hold the call BEFORE acting on it (nothing is posted while the client waits)."""
        self._faults.setdefault(method, []).extend([("hold", seconds)] * count)

    # -- plumbing ----------------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        try:
            async with asyncio.timeout(timeout):
                while (found := check()) is None:
                    await self._changed.wait()  # no await between check() and here: no lost wake-up
        except TimeoutError:
            seen = [c.method for c in self.calls]
            raise TimeoutError(f"fake Slack: no {what} within {timeout}s (calls seen: {seen})") from None
        return found

    def _take_fault(self, method: str) -> tuple[str, float] | None:
        queue = self._faults.get(method)
        return queue.pop(0) if queue else None

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        form_token, bad_json = params.get("token"), False
        if request.content_type == "application/json":
            try:  # Slack ignores a "token" key in JSON: JSON calls must use the Authorization header
                params.update(json.loads(await request.text() or "{}"))
            except (ValueError, TypeError):
                bad_json = True
        elif request.content_type in (FORM, "multipart/form-data"):
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
            params.update(form)
            form_token = form.get("token") or form_token
        call = RecordedCall(method, params, dict(request.headers), time.monotonic(), request.method)
        call.via = request.match_info.get("via")
        self.calls.append(call)
        self._notify()

        status, headers, fault = 200, {}, self._take_fault(method)
        if fault and fault[0] == "hold":
            await self._sleep(fault[1])
            if request.transport is None or request.transport.is_closing():
                return web.Response(status=499)  # the client went away first: Slack never acted on it
        if fault and fault[0] == "ratelimit":
            status, headers, body = 429, {"Retry-After": str(int(fault[1]))}, _err("ratelimited")
        elif fault and fault[0] == "fail":
            status = int(fault[1])
            body = _err("service_unavailable" if status == 503 else "fatal_error")
        elif bad_json:
            body = _err("invalid_json")
        elif (handler := self._methods.get(method)) is None:
            body = _err("unknown_method", req_method=method)
        else:
            auth = request.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else form_token
            if not token:
                body = _err("not_authed")
            elif token != self.bot_token:
                body = _err("invalid_auth")
            else:
                body = handler(params)
        if fault and fault[0] == "delay":
            await self._sleep(fault[1])
        call.status, call.response = status, body
        self._notify()
        return web.json_response(body, status=status, headers=headers)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        state = self._response_urls.get(rid)
        fault = self._take_fault("response_url")
        if fault and fault[0] == "fail":
            return web.json_response(_err("service_unavailable"), status=int(fault[1]))
        if state is None:
            return web.json_response(_err("invalid_url"), status=404)
        if state.expired or self._clock() - state.created > self.response_url_ttl:
            return web.json_response(_err("expired_url"), status=404)
        if state.uses >= RESPONSE_URL_MAX_USES:
            return web.json_response(_err("used_url"), status=404)
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.json_response(_err("invalid_payload"), status=400)
        if not isinstance(body, dict) or not ({"text", "blocks", "attachments", "delete_original"} & body.keys()):
            return web.json_response(_err("no_text"), status=400)
        state.uses += 1
        self.responses[rid].append(body)
        self._notify()
        if fault and fault[0] == "delay":
            await self._sleep(fault[1])
        return web.json_response({"ok": True})

    # -- Web API methods ---------------------------------------------------------------------
    def _next_ts(self) -> str:
        # Unique and increasing, in Slack's "seconds.micros" shape.
        self._last_ts = max(round(time.time(), 6), round(self._last_ts + 0.000001, 6))
        return f"{self._last_ts:.6f}"

    def _dm(self, users: list[str]) -> str:
        prefix = "D" if len(users) == 1 else "G"
        return prefix + hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:10].upper()

    def _channel(self, channel: Any) -> str | None:
        if not channel or not isinstance(channel, str):
            return None
        if channel.startswith("#"):  # Slack resolves names to ids
            return self._channel_ids.setdefault(channel[1:], f"C{len(self._channel_ids) + 1:08d}NAME")
        if channel[0] in "UW":  # posting to a user id goes to the app's DM with them
            return self._dm([channel])
        return channel

    def _find(self, channel: str | None, ts: Any) -> dict | None:
        return next((m for m in self.messages.get(channel or "", []) if m["ts"] == ts), None)

    def _auth_test(self, p: dict) -> dict:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Tower Test",
            "user": "tower",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        blocks, attachments = _maybe_json(p.get("blocks")), _maybe_json(p.get("attachments"))
        if not (p.get("text") or blocks or attachments):
            return _err("no_text")
        metadata = _maybe_json(p.get("metadata"))
        if metadata is not None and not (
            isinstance(metadata, dict)
            and metadata.get("event_type")
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return _err("invalid_metadata_format")
        msg = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": API_APP_ID,
            "team": self.team_id,
            "text": p.get("text") or "",
            "ts": self._next_ts(),
        }
        extras = {"blocks": blocks, "attachments": attachments, "metadata": metadata, "thread_ts": p.get("thread_ts")}
        msg.update({k: v for k, v in extras.items() if v})
        self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": dict(msg)}

    def _post_ephemeral(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        if channel is None or not p.get("user"):
            return _err("channel_not_found" if channel is None else "user_not_in_channel")
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": p["user"],
                "text": p.get("text") or "",
                "blocks": _maybe_json(p.get("blocks")),
                "thread_ts": p.get("thread_ts"),
                "ts": ts,
            }
        )
        return {"ok": True, "message_ts": ts}

    def _update(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        msg = self._find(channel, p.get("ts"))
        if msg is None:
            return _err("message_not_found")
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in p:
                msg[key] = _maybe_json(p[key])
        msg["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {"ok": True, "channel": channel, "ts": msg["ts"], "text": msg["text"], "message": dict(msg)}

    def _delete(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        msg = self._find(channel, p.get("ts"))
        if msg is None:
            return _err("message_not_found")
        self.messages[channel].remove(msg)
        return {"ok": True, "channel": channel, "ts": msg["ts"]}

    def _open(self, p: dict) -> dict:
        users = p.get("users") or []
        users = users.split(",") if isinstance(users, str) else list(users)
        if not users:
            return _err("users_list_not_supplied")
        channel = self._dm([u.strip() for u in users])
        return {"ok": True, "channel": {"id": channel}, "already_open": channel in self.messages}

    def _page(self, found: list[dict], p: dict, key: str = "messages") -> dict:
        keep_metadata = _flag(p.get("include_all_metadata"))
        found = [{k: v for k, v in m.items() if keep_metadata or k != "metadata"} for m in found]
        cursor = p.get("cursor")
        start = int(base64.b64decode(cursor).decode().split(":")[1]) if cursor else 0
        limit = min(int(p.get("limit") or 100), 999)
        page, more = found[start : start + limit], len(found) > start + limit
        next_cursor = base64.b64encode(f"next:{start + limit}".encode()).decode() if more else ""
        return {"ok": True, key: page, "has_more": more, "response_metadata": {"next_cursor": next_cursor}}

    def _history(self, p: dict) -> dict:
        channel = self._channel(p.get("channel"))
        if channel is None:
            return _err("channel_not_found")
        oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or "inf")
        inclusive = _flag(p.get("inclusive"))

        def wanted(m: dict) -> bool:
            ts = float(m["ts"])
            in_range = oldest <= ts <= latest if inclusive else oldest < ts < latest
            return in_range and m.get("thread_ts", m["ts"]) == m["ts"]  # replies stay in threads

        return self._page([m for m in reversed(self.messages.get(channel, [])) if wanted(m)], p)

    def _replies(self, p: dict) -> dict:
        channel, ts = self._channel(p.get("channel")), p.get("ts")
        if self._find(channel, ts) is None:
            return _err("thread_not_found")
        return self._page([m for m in self.messages[channel] if m.get("thread_ts", m["ts"]) == ts], p)

    def _users_info(self, p: dict) -> dict:
        user = self.users.get(p.get("user") or "")
        return {"ok": True, "user": user} if user else _err("user_not_found")

    def _view(self, p: dict) -> dict:
        view = _maybe_json(p.get("view"))
        if not isinstance(view, dict) or not (p.get("trigger_id") or p.get("user_id")):
            return _err("invalid_arguments")  # views.open needs trigger_id, views.publish user_id
        view = {"id": f"V{next(self._ids):010d}", "team_id": self.team_id, **view}
        self.views.append({"trigger_id": p.get("trigger_id"), "user_id": p.get("user_id"), "view": view})
        return {"ok": True, "view": view}
