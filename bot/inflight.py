"""Commands still running after their acknowledgement, so shutdown can let them finish.

Slack and Discord are answered "received" first and the work happens after; a SIGTERM in between
must not cut that work off with the database closed under it.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("tower")


class InFlight:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()

    def __enter__(self) -> InFlight:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        return self

    def __exit__(self, *exc: object) -> None:
        self._tasks.discard(asyncio.current_task())

    def add(self, task: asyncio.Task) -> None:
        """A task started for work after an acknowledgement: counted from its creation on."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __len__(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    async def drain(self, timeout: float = 20.0) -> None:
        pending = [t for t in self._tasks if not t.done()]
        if not pending:
            return
        log.info("waiting for %d command(s) in flight", len(pending))
        _, late = await asyncio.wait(pending, timeout=timeout)
        if late:
            log.warning("%d command(s) did not finish within %.0fs of shutdown", len(late), timeout)
