"""Discord API objects as Discord's servers send them (what Discord refuses is in discord_validation).

Shapes follow the v10 API documentation and what discord.py 2.7 parses (its parsers index some keys
directly, e.g. ``attachment_size_limit`` on interactions and ``verify_key`` on the application)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
# What a new guild grants @everyone (view, send, history, reactions, application commands, ...).
EVERYONE_PERMISSIONS = "1071698660929"
ALL_PERMISSIONS = str((1 << 53) - 1)
JSON = dict[str, Any]


class Snowflakes:
    """Time-ordered ids like Discord's, so ``created_at`` of what the fake makes is now."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(value, self._last + 1)
        return str(self._last)


def shard_of(guild_id: str | int, shard_count: int) -> int:
    """The shard that gets a guild's gateway events, by Discord's rule."""
    return (int(guild_id) >> 22) % shard_count


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, username: str, *, bot: bool = False) -> JSON:
    return {
        "id": user_id,
        "username": username,
        "discriminator": "0",
        "global_name": None if bot else username,
        "avatar": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "bot": bot,
        "avatar_decoration_data": None,
        "primary_guild": None,
        "collectibles": None,
    }


def bot_user(user_id: str, username: str) -> JSON:
    # GET /users/@me adds the private fields of the token's own account.
    return {
        **user(user_id, username, bot=True),
        "verified": True,
        "mfa_enabled": False,
        "locale": "en-US",
        "email": None,
    }


def member(user_obj: JSON, roles: list[str], *, joined_at: str) -> JSON:
    return {
        "user": user_obj,
        "roles": list(roles),
        "nick": None,
        "avatar": None,
        "banner": None,
        "joined_at": joined_at,
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def role(role_id: str, name: str, *, position: int, permissions: str = EVERYONE_PERMISSIONS) -> JSON:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": permissions,
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: str, guild_id: str, name: str, *, position: int = 0) -> JSON:
    return {
        "id": channel_id,
        "type": 0,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def dm_channel(channel_id: str, recipient: JSON) -> JSON:
    return {"id": channel_id, "type": 1, "last_message_id": None, "flags": 0, "recipients": [recipient]}


def guild(
    guild_id: str, name: str, *, owner_id: str, channels: list[JSON], roles: list[JSON], members: list[JSON]
) -> JSON:
    """GUILD_CREATE: the full guild. ``member_count == len(members)`` makes discord.py consider it chunked."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "owner_id": owner_id,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "features": [],
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "max_members": 500000,
        "max_video_channel_users": 25,
        "premium_progress_bar_enabled": False,
        "joined_at": members[0]["joined_at"] if members else now_iso(),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "lazy": True,
    }


def app_info(app_id: str, name: str, owner: JSON) -> JSON:
    return {
        "id": app_id,
        "name": name,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "tags": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "approximate_guild_count": 1,
        "bot": owner,
        "integration_types_config": {"0": {}},
    }


def message(
    *,
    message_id: str,
    channel_id: str,
    author: JSON,
    body: JSON,
    guild_id: str | None,
    msg_type: int = 0,
    extra: JSON | None = None,
) -> JSON:
    msg: JSON = {
        "id": message_id,
        "channel_id": channel_id,
        "author": author,
        "content": body.get("content") or "",
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": bool(body.get("tts", False)),
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": _attachments(body),
        "embeds": body.get("embeds") or [],
        "components": body.get("components") or [],
        "pinned": False,
        "type": msg_type,
        "flags": int(body.get("flags") or 0),
    }
    if guild_id is not None:
        msg["guild_id"] = guild_id
    if body.get("nonce") is not None:
        msg["nonce"] = body["nonce"]
    msg.update(extra or {})
    return msg


def edit_message(msg: JSON, body: JSON) -> JSON:
    """PATCH semantics: only the fields sent change; a deferred response stops loading."""
    for key in ("content", "embeds", "components", "flags"):
        if key in body:
            msg[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
    if "attachments" in body:
        msg["attachments"] = _attachments(body)
    msg["flags"] = int(msg.get("flags") or 0) & ~128  # LOADING
    msg["edited_timestamp"] = now_iso()
    return msg


def _attachments(body: JSON) -> list[JSON]:
    return [
        {"id": str(a.get("id", i)), "filename": a.get("filename", f"file{i}"), "size": 0, "url": "", "proxy_url": ""}
        for i, a in enumerate(body.get("attachments") or [])
    ]


def assign_command(cmd: JSON, *, command_id: str, app_id: str, guild_id: str | None, version: str) -> JSON:
    """What Discord stores for a command the bot uploaded: defaults filled, ids assigned."""
    out = {
        "id": command_id,
        "application_id": app_id,
        "version": version,
        "type": cmd.get("type", 1),
        "name": cmd["name"],
        "description": cmd.get("description", ""),
        "options": cmd.get("options", []),
        "default_member_permissions": cmd.get("default_member_permissions"),
        "nsfw": cmd.get("nsfw", False),
        "name_localizations": cmd.get("name_localizations"),
        "description_localizations": cmd.get("description_localizations"),
        "contexts": cmd.get("contexts"),
        "integration_types": cmd.get("integration_types", [0]),
    }
    if guild_id is not None:
        out["guild_id"] = guild_id
    else:
        out["dm_permission"] = cmd.get("dm_permission", True)
    return out


def interaction(
    *,
    interaction_id: str,
    app_id: str,
    kind: int,
    token: str,
    data: JSON,
    channel: JSON,
    guild_id: str | None,
    invoker: JSON,
    permissions: str,
    message_obj: JSON | None = None,
) -> JSON:
    """INTERACTION_CREATE ``d``. In a guild the invoker is a member; in a DM a user."""
    payload: JSON = {
        "id": interaction_id,
        "application_id": app_id,
        "type": kind,
        "data": data,
        "token": token,
        "version": 1,
        "channel_id": channel["id"],
        "channel": channel,
        "app_permissions": ALL_PERMISSIONS if guild_id else "0",
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": 26214400,
        "authorizing_integration_owners": {"0": guild_id} if guild_id else {"1": invoker["id"]},
        "context": 0 if guild_id else 1,
    }
    if guild_id is not None:
        payload.update(
            guild_id=guild_id,
            guild={"id": guild_id, "locale": "en-US", "features": []},
            guild_locale="en-US",
            member={**invoker, "permissions": permissions},
        )
    else:
        payload["user"] = invoker
    if message_obj is not None:
        payload["message"] = message_obj
    return payload


def interaction_message(interaction: JSON, *, message_id: str, author: JSON, body: JSON, loading: bool = False) -> JSON:
    """A message the bot posts in answer to ``interaction`` (its INTERACTION_CREATE ``d``): the response or a
    follow-up, carrying ``interaction_metadata``; ``loading`` marks the response of a "thinking" defer."""
    kind, app_id = interaction["type"], interaction["application_id"]
    invoker = interaction.get("member", {}).get("user") or interaction.get("user")
    meta = {
        "id": interaction["id"],
        "type": kind,
        "user": invoker,
        "authorizing_integration_owners": interaction["authorizing_integration_owners"],
    }
    if kind == 2:
        meta.update(name=interaction["data"]["name"], command_type=1)
    else:
        meta["interacted_message_id"] = interaction.get("message", {}).get("id")
    msg = message(
        message_id=message_id,
        channel_id=interaction["channel_id"],
        author=author,
        body=body,
        guild_id=interaction.get("guild_id"),
        msg_type=20 if kind == 2 else 0,
        extra={"webhook_id": app_id, "application_id": app_id, "interaction_metadata": meta},
    )
    if loading:
        msg["flags"] |= 128  # LOADING
    return msg
