"""A fake CI webhook receiver on 127.0.0.1, as Tower's webhook contract asks one to be: it checks the
HMAC signature over "timestamp.body" and a 5-minute timestamp window (401 otherwise), starts one run
per Idempotency-Key (a repeat gets the same run back), and records every request it got."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.faults import Faults
from tests.fakes.local_server import LocalServer

WINDOW_S = 300


@dataclass
class Received:
    headers: dict[str, str]
    raw: bytes
    status: int | None = None  # what the receiver answered


class FakeCIWebhook(LocalServer):
    def __init__(self, secret: str = "whsec-fake", *, path: str = "/hooks/deploy"):
        super().__init__()
        self.secret, self.path = secret, path
        self.received: list[Received] = []  # every request, accepted or not
        self.runs: dict[str, dict] = {}  # Idempotency-Key -> the run it started
        self.answer_with_run = True  # False: a bare 202, so Tower uses the operation id as run id
        self.now: Callable[[], float] = time.time  # the receiver's clock
        self._faults = Faults()  # "fail": answered without acting; "delay": answered late, after acting

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}"

    @property
    def started(self) -> int:
        return len(self.runs)

    def fail_next(self, status: int = 502, count: int = 1) -> None:
        self._faults.add("fail", "POST", "", status, count)

    def timeout_next(self, delay: float = 5.0, count: int = 1) -> None:
        """Start the run, then answer only after `delay` (past the client's timeout)."""
        self._faults.add("delay", "POST", "", delay, count)

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post(self.path, self._hook)

    async def _hook(self, request: web.Request) -> web.Response:
        got = Received(dict(request.headers), await request.read())
        self.received.append(got)
        fail = self._faults.take("fail", request.method, request.path)
        status, body = (fail, {"error": "upstream failed"}) if fail is not None else self._accept(got)
        got.status = status
        if (delay := self._faults.take("delay", request.method, request.path)) is not None:
            await self._sleep(delay)
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    def _accept(self, got: Received) -> tuple[int, Any]:
        if error := self._check_signature(got):
            return 401, {"error": error}
        key = got.headers.get("Idempotency-Key")
        if not key:
            return 400, {"error": "Idempotency-Key is required"}
        try:
            request = json.loads(got.raw)
        except ValueError:
            return 400, {"error": "the body is not JSON"}
        if key in self.runs:
            return 200, self._answer(self.runs[key])  # a repeat: the same run, nothing new started
        number = len(self.runs) + 1
        self.runs[key] = {"run_id": f"wh-{number}", "url": f"{self.base_url}/runs/{number}", "request": request}
        return 202, self._answer(self.runs[key])

    def _answer(self, run: dict) -> dict | None:
        return {"run_id": run["run_id"], "url": run["url"]} if self.answer_with_run else None

    def _check_signature(self, got: Received) -> str | None:
        timestamp = got.headers.get("X-Tower-Timestamp", "")
        if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > WINDOW_S:
            return "missing or stale X-Tower-Timestamp"
        signed = timestamp.encode() + b"." + got.raw
        expected = "sha256=" + hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), got.headers.get("X-Tower-Signature", "").encode()):
            return "bad X-Tower-Signature"
        return None
