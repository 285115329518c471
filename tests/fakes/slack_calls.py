"""What the local Slack records of each Web API call, and the small rules its answers share: Slack's
error body, its truthy flags, and JSON carried inside form fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass
class RecordedCall:
    method: str  # e.g. "chat.postMessage"
    params: dict[str, Any]  # query + form or JSON body, as sent (form values stay strings)
    headers: dict[str, str]
    time: float  # time.monotonic() on arrival
    http_method: str = "POST"
    status: int | None = None  # HTTP status sent back; None while still in flight
    response: dict | None = None
    via: str | None = None  # which client called, if it used api_url_for(name)

    @property
    def token(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.startswith("Bearer ") else self.params.get("token")


@dataclass
class _ResponseUrl:
    created: float
    uses: int = 0
    expired: bool = False


def _err(error: str, **extra: Any) -> dict:
    return {"ok": False, "error": error, **extra}


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _maybe_json(value: Any) -> Any:
    # Form-encoded calls carry blocks/metadata as JSON strings; JSON calls carry objects.
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
