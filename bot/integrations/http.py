"""HTTP for the forges and CI: httpx with bounded, jittered retries of what is safe to retry, and
errors that say what to check without ever showing a token.

Safe to retry: anything that never reached the server (connection refused, DNS), and for
idempotent requests (GET, PUT, DELETE, or a write the caller marks idempotent) also timeouts,
429 and 502/503/504. A non-idempotent write that timed out is reported, not repeated: the caller
checks the forge's state before trying again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping

import httpx

from commands.engine.ports import ForgeAuthError, ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable

log = logging.getLogger("tower.http")

RETRY_STATUS = {429, 502, 503, 504}
ATTEMPTS = 4
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0


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
    ):
        self.service = service  # "GitHub", "GitLab": for messages
        self.token_hint = token_hint  # "set GITHUB_TOKEN to a token with contents:write"
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
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = await self.client.request(method, path.lstrip("/"), **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                if attempt == ATTEMPTS:
                    raise ForgeUnavailable(
                        f"Can't reach {self.service} ({type(err).__name__}).",
                        "Check the network and the forge URL, then run the command again.",
                    ) from None
                await asyncio.sleep(_backoff(attempt))
                continue
            except httpx.TransportError as err:  # the request may have arrived
                if idempotent and attempt < ATTEMPTS:
                    await asyncio.sleep(_backoff(attempt))
                    continue
                maybe = "" if idempotent else " It may or may not have applied the change;"
                raise ForgeUnavailable(
                    f"{self.service} did not answer ({type(err).__name__}).{maybe}",
                    "running the command again checks before it writes.",
                ) from None
            if (
                response.status_code in RETRY_STATUS
                and (idempotent or response.status_code == 429)
                and attempt < ATTEMPTS
            ):
                await asyncio.sleep(_retry_after(response) or _backoff(attempt))
                continue
            if response.is_success or response.status_code in ok:
                return response
            raise self.error(response)
        raise AssertionError("unreachable")

    def error(self, response: httpx.Response) -> ForgeError:
        status = response.status_code
        detail = _detail(response)
        where = f"{response.request.method} {response.request.url.path}"
        if status == 403 and (response.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in detail.lower()):
            return ForgeUnavailable(f"{self.service} rate-limited {where}{detail}.", "Try again in a few minutes.")
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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return min(float(value), RETRY_AFTER_CAP_S) if value is not None else None
    except ValueError:
        return None


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP_S, 0.25 * 2**attempt))
