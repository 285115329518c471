"""Messages for channels, queued in the command's own transaction and delivered by the courier.

Queueing with the change means a crash between "state changed" and "team told" cannot happen;
the key means a retried command cannot tell the team twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.context import Invocation
from commands.engine.reply import Reply, reply_from_dict, reply_to_dict
from commands.engine.settings import ProjectSettings, Settings
from storage.queries import outbox
from storage.tables import OutboundMessage


async def post(
    session: AsyncSession, channel: str, reply: Reply, *, key: str, now: datetime, at: datetime | None = None
) -> bool:
    """Queue `reply` for `channel`, to go out at once or at `at` (a scheduled announcement)."""
    payload = json.dumps(reply_to_dict(reply), ensure_ascii=False)
    return await outbox.enqueue(session, key=f"{key}@{channel}", channel=channel, payload=payload, now=now, due=at)


async def post_many(
    session: AsyncSession,
    channels: Iterable[str],
    reply: Reply,
    *,
    key: str,
    now: datetime,
    skip: str | None = None,
    at: datetime | None = None,
) -> int:
    """Post to each channel except `skip` (where the command was typed: it saw the reply already)."""
    sent = 0
    for channel in channels:
        if channel != skip:
            sent += await post(session, channel, reply, key=key, now=now, at=at)
    return sent


UNDELIVERABLE = "undeliverable:"


async def tell_undeliverable(
    session: AsyncSession, settings: Settings, row: OutboundMessage, reason: str, now: datetime
) -> int:
    """A message Tower gave up on: the team hears of it in the project's other team channels (for a
    direct message, every project's team, whose member it was for). Never a notice about a notice."""
    if row.key.startswith(UNDELIVERABLE):
        return 0
    channel = row.channel
    projects = [p for p in settings.projects.values() if channel in (*p.channels.team, *p.channels.announce)]
    if not projects and channel.partition(":")[0].endswith("-dm"):
        projects = list(settings.projects.values())
    note = Reply(
        text=f"Tower could not deliver a message to {channel} and gave up after retrying: {reason[:200]}",
        ok=False,
        footer="Check the channel, the bot's membership and its permissions; the message is kept in the outbox.",
    )
    told = 0
    for project in projects:
        told += await post_many(
            session, project.channels.team, note, key=f"{UNDELIVERABLE}{row.key}", now=now, skip=channel
        )
    return told


def decode(payload: str) -> Reply:
    return reply_from_dict(json.loads(payload))


async def tell_team(
    session: AsyncSession, inv: Invocation, project: ProjectSettings, text: str, *, key: str, now: datetime, ref: str
) -> None:
    """Keep the team channels in the loop, except the one the command was typed in."""
    note = Reply(text=text, footer=f"`/release status {ref}`")
    await post_many(session, project.channels.team, note, key=key, now=now, skip=inv.channel)
