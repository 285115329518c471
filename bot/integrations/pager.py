"""Outside pagers, delivered by the courier like chat messages: PagerDuty's Events API v2 and a
generic signed webhook. The page number is PagerDuty's dedup_key (and the webhook's
Idempotency-Key), so a retried trigger or acknowledgement never opens a second incident."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping

import httpx

from bot.courier import Ambiguous, Permanent, RetryAfter, Transient
from commands.engine.reply import Reply
from commands.engine.settings import Settings

TIMEOUT_S = 10.0


async def post_json(client: httpx.AsyncClient, url: str, body: dict, headers: dict[str, str]) -> httpx.Response:
    """POST JSON for the courier, with its failures sorted the courier's way."""
    try:
        response = await client.post(
            url, content=json.dumps(body), headers={"Content-Type": "application/json", **headers}
        )
    except httpx.ConnectError as err:
        raise Transient(type(err).__name__) from None  # never reached the receiver
    except httpx.TransportError as err:
        raise Ambiguous(type(err).__name__) from None  # may have
    if response.status_code == 429:
        raise RetryAfter(float(response.headers.get("Retry-After", 5)))
    if response.status_code >= 500:
        raise Transient(f"{response.status_code}")
    if response.status_code >= 400:
        raise Permanent(f"{response.status_code}: {response.text[:200]}")
    return response


class _HttpSender:
    def __init__(self, settings: Settings, env: Mapping[str, str], transport: httpx.AsyncBaseTransport | None = None):
        self.settings, self.env = settings, env
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S, transport=transport)

    async def _post(self, url: str, body: dict, headers: dict[str, str]) -> httpx.Response:
        return await post_json(self.client, url, body, headers)

    async def find(self, channel_id: str, key: str, since) -> str | None:
        return None  # re-sending is safe: the receiver deduplicates by the page's key

    async def close(self) -> None:
        await self.client.aclose()


class PagerDutySender(_HttpSender):
    """channel: pagerduty:PROJECT."""

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        project = self.settings.projects[channel_id]
        routing_key = self.env.get(project.paging.pagerduty_routing_key_env or "")
        if not routing_key:
            raise Permanent(f"{project.paging.pagerduty_routing_key_env} is not set")
        action = reply.meta.get("event", "trigger")
        body = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": f"tower-{channel_id}-page-{reply.meta['page']}",
        }
        if action == "trigger":
            body["payload"] = {
                "summary": reply.text[:1024],
                "source": f"tower/{channel_id}",
                "severity": "critical",
                "custom_details": {"release": reply.meta.get("release"), "page": reply.meta["page"]},
            }
        response = await self._post(project.paging.pagerduty_url.rstrip("/") + "/v2/enqueue", body, {})
        return (response.json() or {}).get("dedup_key")


class WebhookPagerSender(_HttpSender):
    """channel: pager-webhook:PROJECT. The body is signed like Tower's CI callbacks: HMAC-SHA256 of
    `timestamp.body` with the project's secret."""

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        project = self.settings.projects[channel_id]
        body = {
            "event": reply.meta.get("event", "trigger"),
            "page": reply.meta.get("page"),
            "release": reply.meta.get("release"),
            "project": channel_id,
            "text": reply.text,
        }
        raw = json.dumps(body)
        timestamp = str(int(time.time()))
        headers = {"Idempotency-Key": key, "X-Tower-Timestamp": timestamp}
        secret = self.env.get(project.paging.webhook_secret_env or "")
        if secret:
            digest = hmac.new(secret.encode(), f"{timestamp}.{raw}".encode(), hashlib.sha256).hexdigest()
            headers["X-Tower-Signature"] = f"sha256={digest}"
        # Escalation addresses pager-webhook:PROJECT only for a project with a webhook_url.
        assert project.paging.webhook_url, f"project {channel_id} has no paging.webhook_url"
        await self._post(project.paging.webhook_url, body, headers)
        return None
