"""Commands run on a thread of their own, so that acknowledging never waits for them.

Slack must be acknowledged within 3 seconds and Discord interactions deferred within 3; both are
answered on the main event loop, which also holds the gateway, the HTTP server and the courier.
Running a command is CPU work (the ORM, rendering) and database waits. Here it happens on a worker
thread with its own event loop, its own database engine and its own HTTP clients (an asyncio
connection belongs to the loop that opened it); the main loop hands a command over and awaits the
reply without running any of it. The GIL is still shared, so the interpreter's switch interval is
shortened while the worker runs: the main loop gets the processor back within a fraction of a
millisecond of an interaction arriving, instead of after up to 5 ms of the worker's work.

Exactly-once and order are unchanged: Slack's taken-request record is still written before a
command is handed over, operation ids are still the commands', the worker's dispatcher admits
commands first come, first served, and what they post goes through the outbox, delivered per
channel in order by the courier on the main loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, TypeVar

from bot.app import Tower
from bot.integrations.cis import ProjectCIs
from bot.integrations.forges import ProjectForges
from bot.integrations.probes import Prober
from commands.deploy.events import record_ci_event
from commands.engine.context import Caller
from commands.engine.dispatch import CommandRecord, Dispatcher
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.spec import CommandSpec
from storage.database import Database

log = logging.getLogger("tower")
SWITCH_INTERVAL_S = 0.0005  # while the worker runs (CPython's default is 0.005)
T = TypeVar("T")


class RunsCommands(Protocol):
    """What a chat adapter needs to run commands: the Dispatcher itself, or a CommandWorker."""

    async def run(self, text: str, caller: Caller) -> Reply: ...

    async def run_parsed(self, spec: CommandSpec, raw: dict[str, object], caller: Caller, text: str) -> Reply: ...

    async def call(self, work: Callable[[Services], Awaitable[T]]) -> T: ...


class CommandWorker:
    def __init__(self, tower: Tower):
        self.tower = tower
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._dispatcher: Dispatcher | None = None
        self._services: Services | None = None
        self._switch = sys.getswitchinterval()

    async def start(self) -> None:
        main = asyncio.get_running_loop()
        opened: asyncio.Future[None] = main.create_future()

        def report(error: BaseException | None) -> None:
            if not opened.done():
                opened.set_exception(error) if error else opened.set_result(None)

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._open(main))
            except BaseException as err:
                main.call_soon_threadsafe(report, err)
                loop.close()
                return
            main.call_soon_threadsafe(report, None)
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="tower commands", daemon=True)
        self._thread.start()
        await opened
        sys.setswitchinterval(SWITCH_INTERVAL_S)

    async def _open(self, main: asyncio.AbstractEventLoop) -> None:
        """On the worker's loop: the same services, with a database engine and HTTP clients of its own."""
        base, env = self.tower.services, self.tower.secrets
        db = Database(base.db.url.render_as_string(hide_password=False), schema=base.db.schema)
        cis = ProjectCIs(env, base.settings.data_dir, db, getattr(base.cis, "transport", None))
        services = dataclasses.replace(
            base,
            db=db,
            cis=cis,
            forges=ProjectForges(env, getattr(base.forges, "transport", None)),
            prober=Prober(),
        )
        cis.report = lambda event: record_ci_event(services, event)
        dispatcher = Dispatcher(services, in_parallel=base.settings.tower.commands_in_parallel)

        def observe(record: CommandRecord) -> None:  # metrics live on the main loop
            for observer in self.tower.dispatcher.observers:
                main.call_soon_threadsafe(observer, record)

        dispatcher.observers.append(observe)
        self._services, self._dispatcher = services, dispatcher

    async def run(self, text: str, caller: Caller) -> Reply:
        return await self._on_worker(lambda d: d.run(text, caller))

    async def run_parsed(self, spec: CommandSpec, raw: dict[str, object], caller: Caller, text: str) -> Reply:
        return await self._on_worker(lambda d: d.run_parsed(spec, raw, caller, text))

    async def call(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Other database work of a command (Slack's taken-request record) on the worker too."""
        return await self._on_worker(lambda d: d.call(work))

    async def _on_worker(self, work: Callable[[Dispatcher], Coroutine[Any, Any, T]]) -> T:
        assert self._loop is not None and self._dispatcher is not None, "start() before running commands"
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work(self._dispatcher), self._loop))

    async def stop(self) -> None:
        """After the adapters drained: close what the worker opened, then its loop and thread."""
        loop, thread, services = self._loop, self._thread, self._services
        if loop is None or thread is None:
            return
        if services is not None:
            done = asyncio.run_coroutine_threadsafe(_close(services), loop)
            try:
                await asyncio.wrap_future(done)
            except Exception:
                log.exception("closing the command worker's connections failed")
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)
        sys.setswitchinterval(self._switch)
        self._loop = self._thread = None


async def _close(services: Services) -> None:
    assert isinstance(services.cis, ProjectCIs) and isinstance(services.prober, Prober)
    await services.cis.close()
    await services.prober.close()
    await services.forges.close()
    await services.db.close()
