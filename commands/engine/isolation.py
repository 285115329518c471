"""Scheduled steps, one project at a time: a step that fails for one project (a bad row, a date no
calendar holds, a forge that answers nonsense) is logged and counted, and the others go on."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from storage.database import unreachable

log = logging.getLogger("tower.jobs")


def log_failure(logger: logging.Logger, what: str, err: BaseException) -> None:
    """A background loop's failure: one line when the database is away (it says so every few
    seconds until it is back; a traceback each time would bury that), the traceback otherwise."""
    if unreachable(err):
        original = getattr(err, "orig", None) or err
        logger.error("%s: the database is unreachable (%s)", what, type(original).__name__)
    else:
        logger.error("%s", what, exc_info=err)


@dataclass
class StepFailures:
    """Failed scheduled steps by (step, project), for /metrics; per process, like the other counters."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)

    @asynccontextmanager
    async def isolated(self, step: str, project: str) -> AsyncIterator[None]:
        try:
            yield
        except Exception as err:
            self.counts[(step, project)] += 1
            # One line for the operator (the traceback with -v): a bad row fails every tick alike.
            log.error(
                "scheduled %s for project %s failed (%s: %s); the others go on",
                step,
                project,
                type(err).__name__,
                str(err)[:300],
            )
            log.debug("the failure in detail", exc_info=True)
