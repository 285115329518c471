"""Replies as Discord embeds with buttons."""

from __future__ import annotations

import discord

from commands.engine.reply import Reply

BUTTON_PREFIX = "tower:"  # custom_id = prefix + the command the button runs
CUSTOM_ID_LIMIT = 100
OK_COLOUR = discord.Colour(0x2E7D32)
ERROR_COLOUR = discord.Colour(0xC62828)
_STYLES = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_embed(reply: Reply) -> discord.Embed:
    body = "\n\n".join([reply.text, *reply.sections])
    embed = discord.Embed(description=_clip(body, 4096), colour=OK_COLOUR if reply.ok else ERROR_COLOUR)
    for field in reply.fields[:25]:
        embed.add_field(name=_clip(field.label, 256), value=_clip(field.value, 1024) or "—", inline=field.inline)
    if reply.footer:
        # Footers show no markdown, so code marks would show as backticks.
        embed.set_footer(text=_clip(reply.footer.replace("`", ""), 2048))
    return embed


def to_view(reply: Reply) -> discord.ui.View | None:
    buttons = [b for b in reply.buttons if len(BUTTON_PREFIX + b.command) <= CUSTOM_ID_LIMIT]
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons[:25]:
        view.add_item(
            discord.ui.Button(
                label=_clip(button.label, 80),
                custom_id=BUTTON_PREFIX + button.command,
                style=_STYLES.get(button.style, discord.ButtonStyle.secondary),
            )
        )
    return view


def command_of(custom_id: str) -> str | None:
    return custom_id[len(BUTTON_PREFIX) :] if custom_id.startswith(BUTTON_PREFIX) else None


def spent(message: discord.Message) -> discord.ui.View | None:
    """The message's buttons, disabled (a change they ran was made); None if it has none."""
    if not message.components:
        return None
    view = discord.ui.View.from_message(message, timeout=None)
    for item in view.children:
        if isinstance(item, discord.ui.Button):
            item.disabled = True
    view.stop()  # finished: discord.py keeps no listener for it
    return view
