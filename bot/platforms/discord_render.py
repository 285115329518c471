"""Replies as Discord embeds with buttons."""

from __future__ import annotations

import discord

from commands.engine import grammar
from commands.engine.errors import UsageError
from commands.engine.references import Show, localize
from commands.engine.registry import Registry
from commands.engine.reply import Reply
from commands.engine.spec import CommandSpec, Kind

BUTTON_PREFIX = "tower:"  # custom_id = prefix + the command the button runs
CUSTOM_ID_LIMIT = 100
OK_COLOUR = discord.Colour(0x2E7D32)
ERROR_COLOUR = discord.Colour(0xC62828)
_STYLES = {"primary": discord.ButtonStyle.primary, "danger": discord.ButtonStyle.danger}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_embed(reply: Reply, show: Show | None = None) -> discord.Embed:
    reply = localize(reply, show)
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


def option_form(registry: Registry) -> Show:
    """Command references in Discord's option form, as its command picker fills them in:
    `/release abort demo --reason "wrong branch"` is `/release abort release:demo reason:wrong branch`,
    a usage line's `[--version V]` is `[version:V]`. What no command takes stays as written."""

    def show(reference: str) -> str:
        try:
            tokens = grammar.tokenize(reference.removeprefix("/"))
        except UsageError:
            return reference
        words = [t.value for t in tokens[:2]]
        spec = registry.get(" ".join(words)) if words and words[0] in registry.groups() else None
        spec = spec or (registry.get(words[0]) if words else None)
        options = _options(spec, tokens[2 if spec.group else 1 :]) if spec else None
        return " ".join([f"/{spec.path}", *options]) if spec and options is not None else reference

    return show


def _options(spec: CommandSpec, tokens: list[grammar.Token]) -> list[str] | None:
    shown: list[str] = []
    slots = iter(spec.positionals)
    i = 0
    while i < len(tokens):
        lead, word, trail = _brackets(tokens[i])
        i += 1
        if word.startswith("--") and not tokens[i - 1].quoted:
            opt = spec.named.get(word[2:])
            if opt is None or (opt.kind is not Kind.FLAG and i >= len(tokens)):
                return None
            if opt.kind is Kind.FLAG:
                shown.append(f"{lead}{opt.name}:True{trail}")
                continue
            _, value, trail = _brackets(tokens[i])
            i += 1
            shown.append(f"{lead}{opt.name}:{value}{trail}")
            continue
        slot = next(slots, None)
        if slot is None:
            return None
        if slot.greedy:  # the rest of the words, up to the next option
            while i < len(tokens) and not tokens[i].value.lstrip("[").startswith("--"):
                word = f"{word}{trail} {tokens[i].value}"
                trail = ""
                i += 1
        shown.append(f"{lead}{slot.name}:{word}{trail}")
    return shown


def _brackets(token: grammar.Token) -> tuple[str, str, str]:
    """A usage line's optional part: `[--all]` is ("[", "--all", "]")."""
    word = token.value
    if token.quoted:
        return "", word, ""
    lead = "[" if word.startswith("[") else ""
    trail = "]" if word.endswith("]") and len(word) > len(lead) else ""
    return lead, word[len(lead) : len(word) - len(trail)], trail


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
