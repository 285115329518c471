"""The CI port as a signed webhook: Tower POSTs the run request to a URL, and the receiver starts the
pipeline and later reports back to Tower's callback (it cannot be polled or asked).

The body is signed like Tower's other webhooks: ``X-Tower-Signature: sha256=HMAC-SHA256(secret,
"timestamp.body")`` with ``X-Tower-Timestamp``, and the operation id is the ``Idempotency-Key``: the
receiver starts one run per key, which is what makes triggering again after a lost answer safe.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import httpx

# The same retry rules as every other Tower HTTP call.
from bot.integrations.http import ATTEMPTS, _backoff, _detail
from bot.integrations.rate_limits import Waiting, retry_after
from commands.engine.ports import CIError, CIUnavailable, Run, RunRequest


class WebhookCI:
    def __init__(
        self,
        url: str,
        secret: str | None,
        *,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        secret_env: str = "TOWER_CI_WEBHOOK_SECRET",
    ):
        self.url, self.secret, self.secret_env = url, secret, secret_env
        # Messages name the host only: webhook URLs often carry a secret in their path or query.
        self.host = httpx.URL(url).host
        self.client = httpx.AsyncClient(timeout=timeout, transport=transport, headers={"User-Agent": "tower"})

    async def close(self) -> None:
        await self.client.aclose()

    async def trigger(self, request: RunRequest) -> Run:
        if not self.secret:
            raise CIError(
                f"{self.secret_env} is not set: set it to the secret the CI webhook at {self.host} "
                "checks signatures with."
            )
        raw = json.dumps(dataclasses.asdict(request))
        response = await self._post(raw, request.operation_id)
        status = response.status_code
        if response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            body = body if isinstance(body, dict) else {}
            return Run(run_id=str(body.get("run_id") or request.operation_id), url=body.get("url"), status="unknown")
        where = f"The CI webhook at {self.host}"
        if status in (401, 403):
            raise CIError(
                f"{where} refused the request ({status}). Check that {self.secret_env} holds the secret "
                "the receiver expects, and that this machine's clock is right (signatures expire)."
            )
        if status == 409:  # the receiver is still handling this key
            raise CIUnavailable(
                f"{where} is still handling operation {request.operation_id} (409).", maybe_started=True
            )
        if status == 429:
            raise CIUnavailable(f"{where} is rate-limiting Tower (429).", maybe_started=False)
        if status >= 500:
            raise CIUnavailable(
                f"{where} failed ({status}). The run may have started; triggering it again with "
                "the same operation id is safe.",
                maybe_started=True,
            )
        raise CIError(f"{where} refused the run ({status}{_detail(response)}). Check the webhook URL in tower.toml.")

    async def find(self, request: RunRequest) -> Run | None:
        return None  # the receiver deduplicates by Idempotency-Key: triggering again is the lookup

    async def status(self, run_id: str) -> Run:
        return Run(run_id=run_id, url=None, status="unknown")  # only the callback reports

    async def _post(self, raw: str, key: str) -> httpx.Response:
        """One delivery. Retried only when it never reached the receiver, or was refused with 429; a
        request that may have arrived is reported (maybe_started), never repeated here."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = await self.client.post(self.url, content=raw.encode(), headers=self._headers(raw, key))
            except (httpx.ConnectError, httpx.ConnectTimeout) as err:
                if attempt == ATTEMPTS:
                    raise CIUnavailable(
                        f"Can't reach the CI webhook at {self.host} ({type(err).__name__}).", maybe_started=False
                    ) from None
                await asyncio.sleep(_backoff(attempt))
                continue
            except httpx.TransportError as err:
                raise CIUnavailable(
                    f"The CI webhook at {self.host} did not answer ({type(err).__name__}). The run "
                    "may have started; triggering it again with the same operation id is safe.",
                    maybe_started=True,
                ) from None
            if response.status_code == 429 and attempt < ATTEMPTS:
                # As long as the receiver says (never less), if that is short; else the 429 is reported.
                now = datetime.now(UTC)
                until = retry_after(response, now)
                wait = (until - now).total_seconds() if until else _backoff(attempt)
                if wait <= Waiting.patience:
                    await asyncio.sleep(wait)
                    continue
            return response
        raise AssertionError("unreachable")

    def _headers(self, raw: str, key: str) -> dict[str, str]:
        assert self.secret, "trigger() refuses to post without a secret"
        timestamp = str(int(time.time()))  # signed afresh on each attempt, so a retry is never stale
        digest = hmac.new(self.secret.encode(), f"{timestamp}.{raw}".encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "Idempotency-Key": key,
            "X-Tower-Timestamp": timestamp,
            "X-Tower-Signature": f"sha256={digest}",
        }
