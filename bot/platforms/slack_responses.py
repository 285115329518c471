"""Answers to a Slack request's response_url, over one HTTP session the adapter keeps.

Bolt's `respond` opens and closes an HTTP session, and so a connection, for every answer; under load
that was most of what answering cost the main loop, where acknowledgements wait their turn. This
posts the same message with slack_sdk's webhook client (its format, its retry on a dropped
connection), through a session kept open until the adapter closes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

TIMEOUT_S = 30.0
Respond = Callable[..., Awaitable[Any]]


class ResponseUrls:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def respond_to(self, body: dict, otherwise: Respond) -> Respond:
        """How to answer this request: at its response_url, or as Bolt would if it has none."""
        url = body.get("response_url")
        if not isinstance(url, str) or not url:
            return otherwise

        async def respond(**message: Any) -> Any:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S))
            return await AsyncWebhookClient(url=url, session=self._session, timeout=int(TIMEOUT_S)).send(**message)

        return respond

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
