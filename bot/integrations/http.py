"""HTTP for the forges and CI: httpx with bounded, jittered retries of what is safe to retry, rate limits
honoured, and errors that say what to check without ever showing a token.

Safe to retry: anything that never reached the server (connection refused, DNS), and for
idempotent requests (GET, PUT, DELETE, or a write the caller marks idempotent) also timeouts
and 502/503/504. A non-idempotent write that timed out is reported, not repeated: the caller
checks the forge's state before trying again. A rate-limited request was refused before it did
anything, so any request may wait and go again, but only as the service says (rate_limits.py):
never before the time it names, and within one call only as long as `Waiting.patience`; beyond
that the call fails with ForgeRateLimited, and the client sends nothing more until that time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from datetime import datetime, timedelta

import httpx

from bot.integrations.rate_limits import Waiting, clock_time, hold_off, is_rate_limited, retry_after, used_up
from commands.engine.ports import ForgeAuthError, ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable

log = logging.getLogger("tower.http")

RETRY_STATUS = {502, 503, 504}
ATTEMPTS = 4
BACKOFF_CAP_S = 8.0


class ForgeRateLimited(ForgeUnavailable):
    """The service refuses requests until `until`: nothing was done, and asking sooner only prolongs it."""

    def __init__(self, message: str, hint: str, until: datetime):
        super().__init__(message, hint)
        self.until = until


class ApiClient:
    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        service: str,
        token_hint: str,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        waiting: Waiting | None = None,
    ):
        self.service = service  # "GitHub", "GitLab": for messages
        self.token_hint = token_hint  # "set GITHUB_TOKEN to a token with contents:write"
        self.waiting = waiting or Waiting()
        # Per client, so per project and token: until when the service refuses us, and how many
        # rate-limited answers came in a row (a secondary limit without a stated wait doubles it).
        self.closed_until: datetime | None = None
        self._strikes = 0
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
            follow_redirects=True,
        )

    async def request(
        self, method: str, path: str, *, idempotent: bool | None = None, ok: tuple[int, ...] = (), **kwargs
    ) -> httpx.Response:
        """The response for a 2xx (or a status in `ok`); a ForgeError for anything else."""
        idempotent = method in ("GET", "HEAD", "PUT", "DELETE") if idempotent is None else idempotent
        where = f"{method} /{path.lstrip('/')}" if "://" not in path else f"{method} {httpx.URL(path).path}"
        give_up_at = self.waiting.now() + timedelta(seconds=self.waiting.patience)
        limited: httpx.Response | None = None  # the last rate-limited answer, for the message
        for attempt in range(1, ATTEMPTS + 1):
            await self._wait_until_open(give_up_at, where, limited)
            try:
                response = await self.client.request(method, path.lstrip("/"), **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                if attempt == ATTEMPTS:
                    raise ForgeUnavailable(
                        f"Can't reach {self.service} ({type(err).__name__}).",
                        "Check the network and the forge URL, then run the command again.",
                    ) from None
                await self.waiting.sleep(_backoff(attempt, self.waiting.rng))
                continue
            except httpx.TransportError as err:  # the request may have arrived
                if idempotent and attempt < ATTEMPTS:
                    await self.waiting.sleep(_backoff(attempt, self.waiting.rng))
                    continue
                maybe = "" if idempotent else " It may or may not have applied the change;"
                raise ForgeUnavailable(
                    f"{self.service} did not answer ({type(err).__name__}).{maybe}",
                    "running the command again checks before it writes.",
                ) from None
            now = self.waiting.now()
            if is_rate_limited(response):
                self.closed_until, limited = hold_off(response, now, self._strikes), response
                self._strikes += 1
                continue  # the top of the loop waits, or gives up saying until when
            self._strikes, self.closed_until = 0, used_up(response, now)
            if response.status_code in RETRY_STATUS and idempotent and attempt < ATTEMPTS:
                # A service that says when to come back (503 + Retry-After) is not asked sooner.
                after = retry_after(response, now)
                wait = max(_backoff(attempt, self.waiting.rng), (after - now).total_seconds() if after else 0.0)
                if now + timedelta(seconds=wait) <= give_up_at:
                    await self.waiting.sleep(wait)
                    continue
            if response.is_success or response.status_code in ok:
                return response
            raise self.error(response)
        assert limited is not None and self.closed_until is not None  # only a rate limit ends the loop here
        raise self._rate_limited(where, limited, self.closed_until)

    async def _wait_until_open(self, give_up_at: datetime, where: str, limited: httpx.Response | None) -> None:
        """Sleep until the service takes requests again, or fail at once if that is past `give_up_at`."""
        until = self.closed_until
        if until is None:
            return
        now = self.waiting.now()
        if until <= now:
            self.closed_until = None
            return
        if until > give_up_at:
            raise self._rate_limited(where, limited, until)
        log.info("%s rate limited: waiting until %s", self.service, until.isoformat())
        await self.waiting.sleep((until - now).total_seconds() + self.waiting.rng.uniform(0, 1))

    def _rate_limited(self, where: str, response: httpx.Response | None, until: datetime) -> ForgeRateLimited:
        detail = f"{where}{_detail(response)}" if response is not None else f"{where} not sent"
        when = clock_time(until)
        return ForgeRateLimited(
            f"{self.service} is rate limiting Tower ({detail}); it takes no more requests before {when}.",
            f"Run the command again after {when}.",
            until,
        )

    def error(self, response: httpx.Response) -> ForgeError:
        status = response.status_code
        detail = _detail(response)
        where = f"{response.request.method} {response.request.url.path}"
        if is_rate_limited(response):
            return self._rate_limited(where, response, hold_off(response, self.waiting.now()))
        if status in (401, 403):
            return ForgeAuthError(f"{self.service} refused {where} ({status}{detail}).", self.token_hint)
        if status == 404:
            return ForgeNotFound(
                f"{self.service} has no {response.request.url.path} (404{detail}).",
                "Check the repository name in tower.toml and that the token can see it.",
            )
        if status in (409, 422):
            return ForgeConflict(
                f"{self.service} refused {where} ({status}{detail}).",
                "The repository's state does not allow it; check it and run the command again.",
            )
        if 400 <= status < 500:
            return ForgeError(
                f"{self.service} refused {where} ({status}{detail}).",
                "Check the project's forge settings in tower.toml.",
            )
        return ForgeUnavailable(
            f"{self.service} failed {where} ({status}{detail}).",
            "Nothing is known to have changed; run the command again.",
        )

    async def close(self) -> None:
        await self.client.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    return f": {str(message)[:200]}" if message else ""


def _backoff(attempt: int, rng: random.Random | None = None) -> float:
    return (rng.uniform if rng else random.uniform)(0, min(BACKOFF_CAP_S, 0.25 * 2**attempt))
