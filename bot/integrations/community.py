"""Announcements to community webhooks (a forum, a status page, a bridge): a JSON POST per
announcement, carrying the outbox key as Idempotency-Key so a retried post is recognised."""

from __future__ import annotations

import httpx

from bot.courier import Permanent
from bot.integrations.pager import post_json
from commands.engine.reply import Reply
from commands.engine.settings import Settings


class AnnounceWebhookSender:
    """channel: announce-webhook:PROJECT:INDEX (the project's `announce_webhooks` entry)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.client = httpx.AsyncClient(timeout=10.0, transport=transport)

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        project_key, _, index = channel_id.rpartition(":")
        project = self.settings.projects.get(project_key)
        if project is None or not index.isdigit() or int(index) >= len(project.announce_webhooks):
            raise Permanent(f"no announce webhook {channel_id}")
        body = {
            "project": project_key,
            "version": reply.meta.get("version"),
            "text": reply.text,
            "correction_of": reply.meta.get("edit"),
        }
        await post_json(self.client, project.announce_webhooks[int(index)], body, {"Idempotency-Key": key})
        return key

    async def find(self, channel_id: str, key: str, since) -> str | None:
        return None  # the receiver deduplicates by Idempotency-Key

    async def close(self) -> None:
        await self.client.aclose()
