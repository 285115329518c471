"""Fakes that are real implementations of Tower's boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now

    def set(self, when: datetime) -> None:
        assert when.tzinfo is not None, "the fake clock keeps aware times"
        self._now = when
