"""Wake-ups. APScheduler only wakes the process; what is due lives in Tower's tables, so a job
finds its work there and a restart neither loses nor repeats anything. The first run of each job
happens at start, which re-arms whatever was pending when the process stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING

from commands.crew.escalation import escalate_due
from commands.deploy.reconcile import reconcile as reconcile_deployments
from commands.deploy.simmer_tick import recheck_due_moments
from commands.deploy.simmer_tick import tick as simmer_tick
from commands.engine.isolation import log_failure
from commands.engine.services import Services
from commands.release.issue_sync import sync_release_issues
from commands.scope.reminders import send_due_reminders

log = logging.getLogger("tower.jobs")


async def due_work(services: Services) -> int:
    """Everything whose time has come: escalation steps, reminders, deployments to check or retire,
    simmers to sample, pass or report on. Safe to run anywhere, any number of times."""
    work = 0
    for step, run in STEPS:
        # Each step on its own: a step that cannot even read its work (the database went away
        # mid-tick) must not keep the next one from trying.
        async with services.failures.isolated(step, "*"):
            work += await run(services)
    return work


STEPS = (
    ("escalation", escalate_due),
    ("reminders", send_due_reminders),
    ("deploy check", reconcile_deployments),
    ("simmer", simmer_tick),
)


async def _here(services: Services, work: Callable[[Services], Awaitable[int]]) -> int:
    return await work(services)


class Wakeups:
    def __init__(
        self,
        services: Services,
        on_work: Callable[[], None] = lambda: None,
        run: Callable[[Callable[[Services], Awaitable[int]]], Awaitable[int]] | None = None,
    ):
        self.services = services
        self.on_work = on_work  # new messages are in the outbox: wake the courier
        # Where the work runs: `tower run` hands it to the command worker, off the acknowledging loop.
        self.run = run or (lambda work: _here(services, work))
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.last_tick: datetime | None = None
        self._busy: set[asyncio.Task] = set()  # jobs running now: shutdown lets them finish
        self._stopping = False
        self._recheck = True  # the first tick once this replica wakes jobs rechecks stored due moments
        tick = services.settings.tower.tick_seconds
        self.scheduler.add_job(
            self._tick,
            "interval",
            seconds=tick,
            id="tick",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        # Forge issues cost API calls: a slower beat, which is fine for ticked boxes.
        self.scheduler.add_job(
            self._sync_issues,
            "interval",
            seconds=max(60.0, tick),
            id="issues",
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    async def _tick(self) -> None:
        if self._stopping or self.scheduler.state != STATE_RUNNING:
            return
        task = _this_task()
        self._busy.add(task)
        self.last_tick = self.services.clock.now()
        try:
            if self._recheck:
                # Scheduled under the config another process (or this one, before a restart) ran with.
                # On its own: a recheck that fails is tried at the next tick and keeps no work waiting.
                async with self.services.failures.isolated("simmer recheck", "*"):
                    await self.run(recheck_due_moments)
                    self._recheck = False
            if await self.run(due_work):
                self.on_work()
        except Exception as err:
            log_failure(log, "this tick failed; the next tick tries again", err)
        finally:
            self._busy.discard(task)

    async def _sync_issues(self) -> None:
        if self._stopping or self.scheduler.state != STATE_RUNNING:
            return
        task = _this_task()
        self._busy.add(task)
        try:
            await self.run(sync_release_issues)
        except Exception as err:
            log_failure(log, "release issue sync failed; it runs again shortly", err)
        finally:
            self._busy.discard(task)

    @property
    def running(self) -> bool:
        """Waking jobs now (not stopped, not a paused standby)."""
        return self.scheduler.state == STATE_RUNNING

    def start(self, paused: bool = False) -> None:
        """Start; a standby replica starts paused and resumes when it wins the scheduler lock."""
        self.scheduler.start(paused=paused)

    def resume(self) -> None:
        if self.scheduler.state == STATE_PAUSED and not self._stopping:
            self._recheck = True  # taken over: the last holder may have run with another config
            self.scheduler.resume()

    async def pause(self) -> None:
        """Stop waking jobs and let one that is running finish (another replica is taking over)."""
        if self.scheduler.state == STATE_RUNNING:
            self.scheduler.pause()
        await asyncio.sleep(0.05)
        if self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop waking up, and let a job that is running finish (it holds a database transaction)."""
        self._stopping = True
        await asyncio.sleep(0.05)  # a job handed to the event loop just now starts, sees _stopping, returns
        if self._busy:
            await asyncio.gather(*self._busy, return_exceptions=True)
        # Only now: APScheduler's shutdown cancels the jobs it still runs.
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


def _this_task() -> asyncio.Task:
    task = asyncio.current_task()
    assert task is not None, "jobs run as tasks of the scheduler's event loop"
    return task
