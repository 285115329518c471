"""Command references in replies, shown in the form that runs where the reply is read.

Replies are written in the one grammar: a code span that starts with `/` and a command's first
word (`/release status demo`, `/help release`) refers to a command a person can run. Commands
stay platform-neutral; each platform's renderer passes the reply through `localize` with its own
way of writing a command: Slack has no `/help` of its own (it is `/tower help …`) and may prefix
Tower's commands, Discord has its option form (`/release status release:demo`), the shell runs
the text as written. Buttons keep the exact command they run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from commands.engine.reply import Reply

# `/word …`: a reference candidate; `show` decides whether the word names a command.
REFERENCE = re.compile(r"`(/[a-z][a-z-]*(?: [^`]*)?)`")

Show = Callable[[str], str]  # a reference as written (`/release status demo`) -> as shown here


def localize(reply: Reply, show: Show | None) -> Reply:
    """`reply` with every command reference in its text, fields, sections and footer shown by `show`."""
    if show is None:
        return reply

    def fix(text: str) -> str:
        return REFERENCE.sub(lambda m: f"`{show(m.group(1))}`", text)

    return replace(
        reply,
        text=fix(reply.text),
        fields=[replace(f, label=fix(f.label), value=fix(f.value)) for f in reply.fields],
        sections=[fix(s) for s in reply.sections],
        footer=fix(reply.footer) if reply.footer is not None else None,
    )


def by_first_word(forms: Mapping[str, str]) -> Show:
    """Show a reference with its first word written as `forms` says (`help` -> `/tower help`);
    words that name no command stay as written."""

    def show(reference: str) -> str:
        head, space, rest = reference.removeprefix("/").partition(" ")
        return f"{forms[head]}{space}{rest}" if head in forms else reference

    return show
