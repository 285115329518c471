"""The rate limits of the fake forges, as the services document them. Each fake asks `refusal()` before
it handles a request (a refusal is answered instead) and adds `headers()` to every other answer. Time
is Unix seconds from `now`, which a test may tie to its fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime

RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
Refusal = tuple[int, object, dict[str, str]]  # status, body (JSON, or str for plain text), headers


class GitHubRateLimit:
    """GitHub's limits per "Rate limits for the REST API" (REST version 2022-11-28). Primary: every answer
    carries x-ratelimit-limit, -remaining, -used, -reset (Unix seconds) and -resource; once nothing
    remains, each request is refused with 403 (or 429) and remaining 0 until the reset. Secondary: a 403
    or 429 whose message names it, with `retry-after` only sometimes; `secondary_next` trips it."""

    def __init__(self, limit: int = 5000, window_s: float = 3600, now: Callable[[], float] = time.time):
        self.limit, self.window_s, self.now = limit, window_s, now
        self.used = 0
        self.reset_at = now() + window_s
        self.refuse_with = 403  # GitHub says 403 or 429 for the primary limit
        self._secondary: list[tuple[int, float | None]] = []

    def exhaust(self, reset_in: float, status: int = 403) -> None:
        """Use up the primary quota; it comes back `reset_in` seconds from now."""
        self.used, self.reset_at, self.refuse_with = self.limit, self.now() + reset_in, status

    def secondary_next(self, status: int = 403, retry_after: float | None = None, count: int = 1) -> None:
        self._secondary += [(status, retry_after)] * count

    def refusal(self) -> Refusal | None:
        self._roll()
        if self._secondary:
            status, retry_after = self._secondary.pop(0)
            headers = self.headers() | ({"retry-after": str(int(retry_after))} if retry_after is not None else {})
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            return status, {"message": message, "documentation_url": RATE_LIMIT_DOCS}, headers
        if self.used >= self.limit:
            message = "API rate limit exceeded for user ID 1."
            return self.refuse_with, {"message": message, "documentation_url": RATE_LIMIT_DOCS}, self.headers()
        self.used += 1
        return None

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(max(0, self.limit - self.used)),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(int(self.reset_at)),
            "x-ratelimit-resource": "core",
        }

    def _roll(self) -> None:
        if self.now() >= self.reset_at:
            self.used, self.reset_at = 0, self.now() + self.window_s


class GitLabThrottle:
    """GitLab's Rack::Attack throttle of authenticated API requests, per
    doc/administration/settings/user_and_ip_rate_limits.md: every answer carries RateLimit-Limit, -Name,
    -Observed, -Remaining and -Reset (Unix seconds); over the limit the answer is 429 with the plain-text
    body "Retry later", plus RateLimit-ResetTime (an HTTP date) and Retry-After (seconds to the reset)."""

    def __init__(self, limit: int = 2000, period_s: float = 60, now: Callable[[], float] = time.time):
        self.limit, self.period_s, self.now = limit, period_s, now
        self.observed = 0
        self.reset_at = now() + period_s

    def exhaust(self, reset_in: float) -> None:
        self.observed, self.reset_at = self.limit, self.now() + reset_in

    def refusal(self) -> Refusal | None:
        if self.now() >= self.reset_at:
            self.observed, self.reset_at = 0, self.now() + self.period_s
        if self.observed >= self.limit:
            reset = datetime.fromtimestamp(self.reset_at, UTC)
            extra = {
                "RateLimit-ResetTime": format_datetime(reset, usegmt=True),
                "Retry-After": str(max(0, round(self.reset_at - self.now()))),
            }
            return 429, "Retry later\n", self.headers() | extra
        self.observed += 1
        return None

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Observed": str(self.observed),
            "RateLimit-Remaining": str(max(0, self.limit - self.observed)),
            "RateLimit-Reset": str(int(self.reset_at)),
        }
