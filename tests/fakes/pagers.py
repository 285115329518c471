"""A fake PagerDuty Events API v2 and a fake pager webhook: they record what they receive and
deduplicate the way PagerDuty does (one incident per dedup_key)."""

from __future__ import annotations

import json

from aiohttp import web

from tests.fakes.local_server import LocalServer


class FakePagerDuty(LocalServer):
    def __init__(self, routing_key: str = "R0UTINGKEY0123456789012345678901"):
        super().__init__()
        self.routing_key = routing_key
        self.events: list[dict] = []
        self.incidents: dict[str, str] = {}  # dedup_key -> triggered / acknowledged / resolved
        self.rate_limited = 0

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v2/enqueue", self._enqueue)

    async def _enqueue(self, request: web.Request) -> web.Response:
        if self.rate_limited:
            self.rate_limited -= 1
            return web.json_response(
                {"status": "throttle", "message": "Requests for this service are arriving too quickly"},
                status=429,
                headers={"Retry-After": "1"},
            )
        body = await request.json()
        self.events.append(body)
        if body.get("routing_key") != self.routing_key:
            return web.json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": ["Invalid routing key"]},
                status=400,
            )
        key, action = body["dedup_key"], body["event_action"]
        if action == "trigger":
            self.incidents.setdefault(key, "triggered")
        elif key in self.incidents:
            self.incidents[key] = {"acknowledge": "acknowledged", "resolve": "resolved"}[action]
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": key}, status=202)


class FakePagerWebhook(LocalServer):
    def __init__(self):
        super().__init__()
        self.received: list[tuple[dict[str, str], dict]] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/pager"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/pager", self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        raw = await request.text()
        self.received.append((dict(request.headers), json.loads(raw) | {"_raw": raw}))
        return web.json_response({"ok": True})
