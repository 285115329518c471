"""The tests' fake Slack in a process of its own, for load benchmarks: the replies the app under
test posts to response_url are then handled off the load generator's event loop, so they do not
slow down the clients whose latency is being measured.

    python -m bench.fake_slack_process [BOT_TOKEN]

Prints "ready BASE_URL" once listening, then serves until terminated. Besides the fake's own
routes it answers:

    POST /bench/response-urls?count=N   {"urls": [...]}: N fresh response_urls
    GET  /bench/stats                   {"responses": n, "messages": n}: replies received so far
    GET  /bench/reply?url=U&timeout=S   200 once the reply to response_url U has arrived, else 404
    GET  /bench/keys                    {"keys": [...]}: the outbox key of every message posted
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

from bench import processes
from tests.fakes.slack_server import FakeSlack

MODULE = "bench.fake_slack_process"


class BenchFakeSlack(FakeSlack):
    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_post("/bench/response-urls", self._mint)
        app.router.add_get("/bench/stats", self._stats)
        app.router.add_get("/bench/reply", self._reply)
        app.router.add_get("/bench/keys", self._keys)

    async def _mint(self, request: web.Request) -> web.Response:
        count = int(request.query.get("count", "1"))
        return web.json_response({"urls": [self.new_response_url() for _ in range(count)]})

    async def _reply(self, request: web.Request) -> web.Response:
        """Answer once the reply to `url` has arrived (404 if it does not within `timeout` s)."""
        try:
            await self.wait_for_response(request.query["url"], timeout=float(request.query.get("timeout", "30")))
        except TimeoutError:
            return web.json_response({"replied": False}, status=404)
        return web.json_response({"replied": True})

    async def _keys(self, request: web.Request) -> web.Response:
        """Tower sends each message's outbox key as its metadata: the keys show what arrived, and how often."""
        keys = [
            m["metadata"]["event_payload"]["key"]
            for posted in self.messages.values()
            for m in posted
            if m.get("metadata")
        ]
        return web.json_response({"keys": keys})

    async def _stats(self, request: web.Request) -> web.Response:
        responses = sum(len(bodies) for bodies in self.responses.values())
        messages = sum(len(posted) for posted in self.messages.values())
        return web.json_response({"responses": responses, "messages": messages})


class FakeSlackClient:
    """The load generator's handle on a BenchFakeSlack running in a child process."""

    def __init__(self, proc, base_url: str):
        self.proc, self.base_url = proc, base_url
        self.api_url = f"{base_url}/api/"
        self._pool: list[str] = []

    @classmethod
    async def start(cls, token: str) -> FakeSlackClient:
        return cls(*await processes.serve_in_child(MODULE, token))

    async def response_url(self, session: aiohttp.ClientSession, batch: int = 2000) -> str:
        if not self._pool:
            async with session.post(f"{self.base_url}/bench/response-urls", params={"count": str(batch)}) as resp:
                self._pool.extend((await resp.json())["urls"])
        return self._pool.pop()

    async def replied(self, session: aiohttp.ClientSession, url: str, timeout: float) -> bool:
        params = {"url": url, "timeout": str(timeout)}
        async with session.get(
            f"{self.base_url}/bench/reply", params=params, timeout=aiohttp.ClientTimeout(total=timeout + 5)
        ) as resp:
            return resp.status == 200

    async def stats(self) -> dict[str, int]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/bench/stats") as resp:
            return await resp.json()

    async def keys(self) -> list[str]:
        async with aiohttp.ClientSession() as session, session.get(f"{self.base_url}/bench/keys") as resp:
            return (await resp.json())["keys"]

    async def stop(self) -> None:
        await processes.stop_child(self.proc)


async def main(token: str) -> None:
    async with BenchFakeSlack(bot_token=token) as fake:
        print("ready", fake.base_url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "xoxb-test-token"))
