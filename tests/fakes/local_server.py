"""The lifecycle the fake servers share: an aiohttp app on 127.0.0.1 at a free port, started and stopped
by hand or with ``async with``. A subclass puts its routes on the app in ``_add_routes``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar, Self

from aiohttp import web


class LocalServer:
    # A short shutdown_timeout: stop() must not hang on a delayed handler.
    _runner_options: ClassVar[dict[str, Any]] = {"access_log": None, "shutdown_timeout": 1.0}

    def __init__(self) -> None:
        self._closing = asyncio.Event()  # set by stop(), to wake delayed answers
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.base_url = ""  # http://127.0.0.1:<port> once started

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def start(self) -> None:
        app = web.Application()
        self._add_routes(app)
        self._runner = web.AppRunner(app, **self._runner_options)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds`, or until stop() (a delayed answer must not hold up the shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._closing.wait()
