"""Wake-ups. APScheduler only wakes the process; what is due lives in Tower's tables, so a job
finds its work there and a restart neither loses nor repeats anything."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from commands.services import Services

log = logging.getLogger("tower.jobs")

HEARTBEAT_SECONDS = 30


class Wakeups:
    def __init__(self, services: Services):
        self.services = services
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.last_tick: datetime | None = None
        self.scheduler.add_job(self._heartbeat, "interval", seconds=HEARTBEAT_SECONDS, id="heartbeat",
                               next_run_time=datetime.now(timezone.utc), coalesce=True, max_instances=1)

    async def _heartbeat(self) -> None:
        self.last_tick = self.services.clock.now()

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def start(self) -> None:
        self.scheduler.start()

    def shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
