"""The tests' fake health endpoint in a process of its own, for load benchmarks: what it costs to
answer a probe is then not counted as Tower's.

    python -m bench.fake_health_process VALUE

Prints "ready HEALTH_URL" once listening, then serves until terminated. Besides /health it answers
GET /bench/reads with {"reads": n}, the probe reads so far.
"""

from __future__ import annotations

import asyncio
import sys

import aiohttp
from aiohttp import web

from bench import processes
from tests.fakes.health import FakeHealth

MODULE = "bench.fake_health_process"


class BenchFakeHealth(FakeHealth):
    def _add_routes(self, app: web.Application) -> None:
        super()._add_routes(app)
        app.router.add_get("/bench/reads", self._reads)

    async def _reads(self, request: web.Request) -> web.Response:
        return web.json_response({"reads": self.reads})


class FakeHealthClient:
    """The benchmark's handle on a BenchFakeHealth running in a child process."""

    def __init__(self, proc: asyncio.subprocess.Process, url: str):
        self.proc, self.url = proc, url

    @classmethod
    async def start(cls, value: float) -> FakeHealthClient:
        return cls(*await processes.serve_in_child(MODULE, repr(value)))

    async def reads(self) -> int:
        base = self.url.removesuffix("/health")
        async with aiohttp.ClientSession() as session, session.get(f"{base}/bench/reads") as resp:
            return (await resp.json())["reads"]

    async def stop(self) -> None:
        await processes.stop_child(self.proc)


async def main(value: float) -> None:
    async with BenchFakeHealth(value=value) as fake:
        print("ready", fake.url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]) if len(sys.argv) > 1 else 100.0))
