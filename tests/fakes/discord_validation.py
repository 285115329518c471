"""The checks Discord applies to what bots send (HTTP 400), in Discord's error format: application
commands, messages and interaction responses, as the v10 API documentation describes them."""

from __future__ import annotations

import re
from typing import Any

JSON = dict[str, Any]


# --- what Discord refuses (HTTP 400), in Discord's error format ------------------------------------------

NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


def form_error(errors: JSON) -> JSON:
    return {"code": 50035, "errors": errors, "message": "Invalid Form Body"}


def field_error(code: str, text: str) -> JSON:
    """One field's errors, as nested inside ``form_error``."""
    return {"_errors": [{"code": code, "message": text}]}


def command_errors(commands: list[JSON]) -> JSON:
    """The checks of PUT .../commands, keyed by index as Discord does ({} when valid)."""
    errors: JSON = {}
    if sum(1 for c in commands if c.get("type", 1) == 1) > 100:
        return field_error("APPLICATION_COMMANDS_TOO_MANY", "Too many commands")
    seen: set[tuple[str, int]] = set()
    for index, cmd in enumerate(commands):
        err = _command_error(cmd, top=True)
        key = (cmd.get("name", ""), cmd.get("type", 1))
        if not err and key in seen:
            err = {
                "name": field_error("APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")
            }
        seen.add(key)
        if err:
            errors[str(index)] = err
    return errors


def _command_error(cmd: JSON, *, top: bool) -> JSON:
    name, desc = cmd.get("name", ""), cmd.get("description", "")
    slash = cmd.get("type", 1) == 1 if top else True
    if (
        not isinstance(name, str)
        or not (NAME_RE.match(name) if slash else 1 <= len(name) <= 32)
        or (slash and name != name.lower())
    ):
        return {"name": field_error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")}
    if slash and not 1 <= len(desc) <= 100:
        return {"description": field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")}
    if not slash and desc:
        return {"description": field_error("APPLICATION_COMMAND_INVALID_DESCRIPTION", "Must be empty.")}
    options = cmd.get("options") or []
    if len(options) > 25:
        return {"options": field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}
    optional_seen = False
    for i, opt in enumerate(options):
        sub = _command_error(opt, top=False)
        if not sub and opt.get("type") not in (1, 2):
            if opt.get("required") and optional_seen:
                sub = {
                    "required": field_error(
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
                }
            optional_seen = optional_seen or not opt.get("required")
            if len(opt.get("choices") or []) > 25:
                sub = {"choices": field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}
        if sub:
            return {"options": {str(i): sub}}
    return {}


EMBED_LIMITS = {"title": 256, "description": 4096}


def message_error(body: JSON) -> JSON | None:
    """The content checks of message creation/edit: None when Discord would accept ``body``."""
    content = body.get("content") or ""
    if len(content) > 2000:
        return form_error({"content": field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")})
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        return form_error({"embeds": field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")})
    total = 0
    for i, embed in enumerate(embeds):
        parts = {k: len(embed.get(k) or "") for k in EMBED_LIMITS}
        fields = embed.get("fields") or []
        for key, size in parts.items():
            if size > EMBED_LIMITS[key]:
                too_long = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_LIMITS[key]} or fewer in length.")
                return form_error({"embeds": {str(i): {key: too_long}}})
        if len(fields) > 25:
            too_many = field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            return form_error({"embeds": {str(i): {"fields": too_many}}})
        for j, f in enumerate(fields):
            if not 1 <= len(f.get("name") or "") <= 256 or not 1 <= len(f.get("value") or "") <= 1024:
                return form_error(
                    {
                        "embeds": {
                            str(i): {
                                "fields": {
                                    str(j): field_error(
                                        "BASE_TYPE_BAD_LENGTH", "Field name must be 1-256 and value 1-1024 in length."
                                    )
                                }
                            }
                        }
                    }
                )
        total += sum(parts.values()) + sum(len(f["name"]) + len(f["value"]) for f in fields)
        total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    if total > 6000:
        return form_error(
            {"embeds": field_error("MESSAGE_EMBEDS_TOO_LARGE", "Embed size exceeds maximum size of 6000")}
        )
    return None


def empty_message(body: JSON, *, attachments: int = 0) -> bool:
    return not (
        body.get("content")
        or body.get("embeds")
        or body.get("components")
        or body.get("sticker_ids")
        or body.get("poll")
        or attachments
    )
