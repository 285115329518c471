"""How many acknowledged commands may wait or run at once in this process, and the honest answer
beyond that: rather than queueing without bound (every command late, the pool timing out), the
acknowledgement itself says Tower is busy and nothing runs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("tower")
BUSY = "Tower is busy, nothing was changed, try again in a minute."


class Backlog:
    """Commands admitted and not finished. Used on the event loop that acknowledges (one thread)."""

    def __init__(self, limit: int = 100):
        self.limit = limit
        self.pending = 0
        self.shed = 0  # commands answered "busy" since start, for /metrics

    def admit(self) -> bool:
        """Take a place for a command; False (and counted) when the backlog is full."""
        if self.pending >= self.limit:
            self.shed += 1
            log.warning("busy: %d commands waiting or running; one was answered 'busy' and not run", self.pending)
            return False
        self.pending += 1
        return True

    def done(self) -> None:
        self.pending -= 1

    @contextmanager
    def place(self) -> Iterator[None]:
        """The place admit() took, given back when the command is finished."""
        try:
            yield
        finally:
            self.done()
