"""When a forge says "too many requests": whether an answer is a rate limit, and until when to hold off.

GitHub ("Rate limits for the REST API", REST version 2022-11-28): over the primary limit it answers 403 or
429 with `x-ratelimit-remaining: 0`, and no request should be sent before `x-ratelimit-reset` (Unix
seconds). Over a secondary limit it answers 403 or 429 with a message saying so: wait `retry-after`
seconds if given, else until `x-ratelimit-reset` if nothing remains, else at least a minute, longer each
time it happens again. GitLab (doc/administration/settings/user_and_ip_rate_limits.md) answers 429 with
`Retry-After` (seconds), `RateLimit-Reset` (Unix seconds) and `RateLimit-ResetTime` (an HTTP date).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

MIN_HOLD_S = 60.0  # GitHub: "wait for at least one minute" when nothing says how long
MAX_HOLD_S = 15 * 60.0  # the cap of the doubling while a secondary limit persists


def _wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Waiting:
    """How a client waits: the clock it reads, the sleep it takes (tests pass fakes of both), the jitter's
    randomness, and `patience`: how long one call may spend waiting before it gives up and says until when
    the forge refuses. Longer waits are for the caller to schedule, not for a chat command to sit through."""

    now: Callable[[], datetime] = _wall_clock
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    patience: float = 30.0
    rng: random.Random = field(default_factory=random.Random)


def is_rate_limited(response: httpx.Response) -> bool:
    if response.status_code == 429:
        return True
    if response.status_code != 403:  # GitHub also says 403 for a plain lack of permission
        return False
    headers = response.headers
    return _remaining(headers) == 0 or "retry-after" in headers or "rate limit" in _message(response).lower()


def hold_off(response: httpx.Response, now: datetime, strikes: int = 0) -> datetime:
    """When the service takes requests again after this rate-limited answer; `strikes`: how many came
    just before it (each doubles the wait when the service does not say how long)."""
    headers = response.headers
    if (after := retry_after(response, now)) is not None:
        return after
    if _remaining(headers) == 0 and (reset := _reset(headers)) is not None and reset > now:
        return reset
    return now + timedelta(seconds=min(MIN_HOLD_S * 2**strikes, MAX_HOLD_S))


def used_up(response: httpx.Response, now: datetime) -> datetime | None:
    """A successful answer that spent the last request of the quota: the next would be refused until the
    reset, so none is sent before it."""
    reset = _reset(response.headers)
    return reset if _remaining(response.headers) == 0 and reset is not None and reset > now else None


def clock_time(when: datetime) -> str:
    """'14:05 UTC', rounded up to the minute, so "after 14:05" is never too early."""
    when = when.astimezone(UTC)
    if when.second or when.microsecond:
        when = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return when.strftime("%H:%M UTC")


def _remaining(headers: httpx.Headers) -> int | None:
    value = headers.get("x-ratelimit-remaining", headers.get("ratelimit-remaining"))
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reset(headers: httpx.Headers) -> datetime | None:
    epoch = headers.get("x-ratelimit-reset", headers.get("ratelimit-reset"))
    try:
        if epoch is not None:
            return datetime.fromtimestamp(float(epoch), UTC)
    except (ValueError, OverflowError):
        pass
    return _http_date(headers.get("ratelimit-resettime"))


def retry_after(response: httpx.Response, now: datetime) -> datetime | None:
    """The time a `Retry-After` header names (seconds, or an HTTP date), if there is one."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return now + timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        return _http_date(value)  # RFC 9110 also allows a date


def _http_date(value: str | None) -> datetime | None:
    try:
        when = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC) if when else None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    return str(body.get("message", "")) if isinstance(body, dict) else ""
