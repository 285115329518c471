"""What commands need from the outside world, as protocols. `bot/` provides the real ones,
tests provide fakes that are real implementations of the same boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...
