"""Requests to the app under test as Slack sends them: slash commands and button clicks, form-encoded
and signed with the app's signing secret (v0 HMAC-SHA256 over "v0:timestamp:body")."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

API_APP_ID = "A0TOWERAPP"
TEAM_DOMAIN = "tower-test"
VERIFICATION_TOKEN = "fake-verification-token"  # deprecated by Slack, but it still sends one
FORM = "application/x-www-form-urlencoded"


def sign(signing_secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(signing_secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def _trigger_id() -> str:
    return f"{int(time.time())}000.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"


def slash_command_body(
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = "T0TOWER01",
    user_name: str = "someone",
    trigger_id: str | None = None,
    channel_name: str = "team",
) -> str:
    return urlencode(
        {
            "token": VERIFICATION_TOKEN,
            "team_id": team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": API_APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or _trigger_id(),
        }
    )


def block_action_body(
    *,
    action_id: str,
    value: str,
    user_id: str,
    channel_id: str,
    response_url: str,
    message_ts: str | None = None,
    team_id: str = "T0TOWER01",
    block_id: str = "tower",
    user_name: str = "someone",
    channel_name: str = "team",
) -> str:
    """A button click. Without message_ts the button sat in an ephemeral message (no `message`)."""
    ts = message_ts or f"{time.time():.6f}"
    container = {"type": "message", "message_ts": ts, "channel_id": channel_id, "is_ephemeral": not message_ts}
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id},
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": _trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "value": value,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if message_ts:
        payload["message"] = {"type": "message", "ts": message_ts, "user": "U0TOWERBOT", "text": ""}
    return urlencode({"payload": json.dumps(payload)})


async def post_signed(
    url: str,
    signing_secret: str,
    body: str,
    *,
    timestamp: int | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, str, str]:
    """POST a Slack request to the app under test; returns (status, content type, body text)."""
    import aiohttp

    all_headers = {
        "Content-Type": FORM,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        **sign(signing_secret, body, timestamp),
        **(headers or {}),
    }
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.post(url, data=body.encode(), headers=all_headers) as resp,
    ):
        return resp.status, resp.content_type, await resp.text()
