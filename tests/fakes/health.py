"""A deployment's health endpoint, whose metric the test sets: {"result": {"verified_layer": N}}."""

from __future__ import annotations

from aiohttp import web

from tests.fakes.local_server import LocalServer


class FakeHealth(LocalServer):
    def __init__(self, value: float = 100, step: float = 0):
        super().__init__()
        self.value: float | None = value
        self.step = step  # added after each read: a deployment that keeps advancing on its own
        self.down = False
        self.reads = 0

    @property
    def url(self) -> str:
        return f"{self.base_url}/health"

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_get("/health", self._health)

    async def _health(self, request: web.Request) -> web.Response:
        self.reads += 1
        if self.down:
            return web.json_response({"error": "unavailable"}, status=503)
        reading = self.value
        if self.value is not None:
            self.value += self.step
        return web.json_response({"result": {"verified_layer": reading}})
