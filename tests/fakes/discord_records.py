"""What the local Discord records: each REST request it answered, and each interaction it dispatched
with everything the bot answered to it. Tests read these."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from multidict import CIMultiDict

JSON = dict[str, Any]


@dataclass
class RecordedCall:
    """One REST request, as it arrived (``path`` without the /api/v10 prefix) and what it got back."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    headers: CIMultiDict[str]  # case-insensitive, like HTTP
    files: list[tuple[str, str, bytes]] = field(default_factory=list)  # (field, filename, content)
    at: float = 0.0  # loop time on arrival
    status: int | None = None  # None while it is being answered
    response: Any = None
    route: str | None = None  # the endpoint it matched; None for paths this fake (and Discord) doesn't have


@dataclass
class Interaction:
    """An interaction the fake dispatched, and everything the bot answered to it."""

    id: str
    token: str
    payload: JSON
    dispatched_at: float
    callbacks: list[JSON] = field(default_factory=list)  # bodies POSTed to /interactions/{id}/{token}/callback
    original: JSON | None = None  # the @original message as it now stands
    edits: list[JSON] = field(default_factory=list)  # bodies PATCHed to @original
    followups: list[JSON] = field(default_factory=list)  # messages created via POST /webhooks/{app}/{token}

    def __iter__(self):  # so that ``interaction_id, token = await fake.send_interaction(...)`` works
        return iter((self.id, self.token))

    @property
    def response_type(self) -> int | None:
        return self.callbacks[0]["type"] if self.callbacks else None

    @property
    def replies(self) -> list[JSON]:
        """What the user sees in answer: the response message (unless still "thinking"), then follow-ups."""
        shown = [self.original] if self.original and not self.original["flags"] & 128 else []
        return shown + [m for m in self.followups if m is not self.original]

    @property
    def choices(self) -> list[JSON] | None:
        """Autocomplete choices the bot returned (callback type 8)."""
        return next((c["data"]["choices"] for c in self.callbacks if c["type"] == 8), None)
