"""A Slack request before it runs: is it one Slack could have sent, and has it been taken before?

A signed request can be replayed within its five minutes, and Slack retries what it thinks timed
out; each is known by its trigger id (or, without one, its whole body) and taken once, by any
replica, in a table every replica shares.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from aiohttp import web

from bot.inbound import Malformed, digits, parse_json_object
from storage.database import Database
from storage.queries import inbound

REMEMBER = timedelta(minutes=10)  # twice Slack's five-minute signature window


def request_key(body: dict) -> str:
    """What makes a Slack request itself: its trigger id (slash commands and buttons carry one, the
    same in a replay or a retry), else a digest of the whole body."""
    team = str((body.get("team") or {}).get("id") or body.get("team_id") or "")
    trigger = body.get("trigger_id")
    if isinstance(trigger, str) and trigger:
        return f"slack:{team}:{trigger}"[:200]
    return "slack:body:" + hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


MAX_SLACK_BODY = 1024 * 1024  # a button click carries its message; still far below this


async def malformed(request: web.Request) -> str | None:
    """What makes a request one Slack never sends, checked before Bolt reads it; None if nothing.
    The signature is Bolt's to check: this only keeps hostile shapes from reaching its parser."""
    stamp = request.headers.get("X-Slack-Request-Timestamp")
    if stamp is not None and not digits(stamp):
        return "X-Slack-Request-Timestamp must be Unix seconds"
    raw = await request.read()
    if len(raw) > MAX_SLACK_BODY:
        return "the body is too large"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    if request.content_type == "application/json":
        payload: str | None = text
    else:
        fields = parse_qs(text, keep_blank_values=True)
        if not fields and text.strip():
            return "the body is not a form"
        payloads = fields.get("payload")
        payload = payloads[0] if payloads else None
    if payload is not None:
        try:
            parse_json_object(payload, max_bytes=MAX_SLACK_BODY)
        except Malformed as err:
            return f"payload: {err}"
    return None


async def taken_before(db: Database, key: str) -> bool:
    # Wall-clock time: the window is Slack's, whatever clock Tower's schedule runs on.
    now = datetime.now(UTC)
    async with db.write() as session:
        return not await inbound.take(session, key, now, now - REMEMBER)
