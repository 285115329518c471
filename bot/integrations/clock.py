"""The real clock, and a fast-forwarded one for rehearsals and tests."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class RehearsalClock:
    """Time that runs `rate` times faster than the wall clock, from `start` at the wall-clock
    moment `anchor` (Unix seconds). Processes given the same three values agree on the time, so
    several replicas can rehearse a week's simmer in a minute together."""

    def __init__(self, start: datetime, anchor: float, rate: float):
        self.start, self.anchor, self.rate = start, anchor, rate

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.anchor) * self.rate)


def clock_from_env(env: Mapping[str, str]) -> SystemClock | RehearsalClock:
    """`TOWER_REHEARSAL_CLOCK="START ANCHOR RATE"` (an ISO instant, Unix seconds, a factor) runs
    Tower on a rehearsal clock; never set it for a real release."""
    spec = env.get("TOWER_REHEARSAL_CLOCK")
    if not spec:
        return SystemClock()
    try:
        start, anchor, rate = spec.split()
        begins = datetime.fromisoformat(start)
        if begins.tzinfo is None:
            raise ValueError("the start needs a UTC offset")
        return RehearsalClock(begins.astimezone(UTC), float(anchor), float(rate))
    except ValueError as err:
        raise ValueError(f"TOWER_REHEARSAL_CLOCK must be 'START ANCHOR RATE' ({err})") from None
