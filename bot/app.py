"""The composition root: config → database → services → adapters → run."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from bot.config import database_url
from bot.integrations.clock import SystemClock
from commands.catalog import build_registry
from commands.directory import sync_from_settings
from commands.dispatch import Dispatcher
from commands.ports import Clock
from commands.services import Services
from commands.settings import Settings
from storage import migrate
from storage.database import Database, DatabaseError, redacted

log = logging.getLogger("tower")


class StartupError(Exception):
    """Tower cannot start; the message says why and what to check (never a secret)."""


@dataclass
class Tower:
    services: Services
    dispatcher: Dispatcher

    @property
    def settings(self) -> Settings:
        return self.services.settings

    async def close(self) -> None:
        await self.services.db.close()


async def open_tower(settings: Settings, env: Mapping[str, str], clock: Clock | None = None) -> Tower:
    clock = clock or SystemClock()
    from bot.demo import DEMO_SOURCE, ensure_demo_repository

    if settings.source == DEMO_SOURCE:
        await asyncio.to_thread(ensure_demo_repository, settings.data_dir / "demo-repo")
    url = database_url(settings, env)
    try:
        db = Database(url, schema=env.get("TOWER_DATABASE_SCHEMA") or None)
    except DatabaseError as err:
        raise StartupError(str(err)) from None
    try:
        await migrate.upgrade(db)
        await sync_from_settings(db, settings, clock.now())
    except (OSError, DBAPIError) as err:
        await db.close()
        reason = getattr(err, "orig", None) or err
        raise StartupError(
            f"Can't use the database at {redacted(url)}: {type(reason).__name__}: {_first_line(reason)}"
        ) from None
    services = Services(settings=settings, db=db, clock=clock, registry=build_registry())
    return Tower(services=services, dispatcher=Dispatcher(services))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else "no details"


async def serve(settings: Settings, env: Mapping[str, str], ready: asyncio.Event | None = None) -> None:
    """`tower run`: the HTTP server and the scheduler in one event loop, until SIGINT or SIGTERM."""
    from aiohttp import web

    from bot.web import build_web_app
    from jobs.scheduler import Wakeups

    tower = await open_tower(settings, env)
    wakeups = Wakeups(tower.services)
    runner = web.AppRunner(build_web_app(tower, wakeups), access_log=None)
    await runner.setup()
    host, port = settings.tower.http_host, settings.tower.http_port
    site = web.TCPSite(runner, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await site.start()
        except OSError as err:
            raise StartupError(f"Can't listen on {host}:{port}: {err.strerror}. Set TOWER_HTTP_PORT to a free port.") from None
        wakeups.start()
        bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
        log.info("Tower is running: config %s, database %s", settings.source, redacted(tower.services.db.url))
        log.info("HTTP on http://%s:%s (/healthz); scheduler running", host, bound)
        log.info("Slack and Discord adapters: not part of this build yet")
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        wakeups.shutdown()
        await runner.cleanup()
        await tower.close()
    log.info("stopped")
