"""Replies as Slack Block Kit."""

from __future__ import annotations

from commands.engine.references import Show, localize
from commands.engine.reply import Reply

SECTION_LIMIT = 3000  # characters in one section's text
FIELDS_PER_SECTION = 10
BUTTON_VALUE_LIMIT = 2000
ACTION_PREFIX = "tower_run"


def escape(text: str) -> str:
    """Slack treats &, < and > as markup; user text (reasons, titles) must not become links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slash command text arrives with &, < and > escaped (mentions stay as <@U…>)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": _clip(text)}


def _clip(text: str) -> str:
    return text if len(text) <= SECTION_LIMIT else text[: SECTION_LIMIT - 1] + "…"


def to_blocks(reply: Reply, mentions: str = "", show: Show | None = None) -> tuple[str, list[dict]]:
    """(fallback text for notifications, blocks). `mentions` (`<@U123> <@U456>`) goes in front,
    unescaped, so the people are notified; `show` writes command references as this workspace
    runs them."""
    reply = localize(reply, show)
    headline = escape(reply.text) if reply.ok else f":warning: {escape(reply.text)}"
    if mentions:
        headline = f"{mentions} {headline}"
    blocks: list[dict] = [{"type": "section", "text": _mrkdwn(headline)}]
    fields = [_mrkdwn(f"*{escape(f.label)}*\n{escape(f.value)}") for f in reply.fields]
    for start in range(0, len(fields), FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": fields[start : start + FIELDS_PER_SECTION]})
    for section in reply.sections:
        blocks.append({"type": "section", "text": _mrkdwn(escape(section))})
    buttons = [b for b in reply.buttons if len(b.command) <= BUTTON_VALUE_LIMIT]
    if buttons:
        elements = []
        for i, button in enumerate(buttons):
            element = {
                "type": "button",
                "text": {"type": "plain_text", "text": button.label[:75]},
                "action_id": f"{ACTION_PREFIX}_{i}",
                "value": button.command,
            }
            if button.style in ("primary", "danger"):
                element["style"] = button.style
            elements.append(element)
        blocks.append({"type": "actions", "elements": elements})
    if reply.footer:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(reply.footer))]})
    # The plain text is what notifications, previews and screen readers show: escaped like the blocks.
    text = escape(reply.text)
    return (f"{mentions} {text}" if mentions else text), blocks
