"""Release notes (the changelog's Markdown) as HTML: CommonMark with raw HTML switched off, so a
note can format text but never inject markup, and `#123` linked to the pull request on the forge."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

from commands.rules.text import clean_text

PULL = re.compile(r"(?<![\w/&#])#(\d{1,9})\b")


def render(notes: str, pull_url: str | None) -> Markup:
    """`pull_url` holds `{number}` (e.g. `https://github.com/o/r/pull/{number}`), or is None."""
    md = MarkdownIt("commonmark", {"html": False})  # links with javascript: and the like are refused too
    if pull_url:
        md.core.ruler.push("pull_links", _pull_links)
    html = md.render(clean_text(notes), {"pull_url": pull_url})
    return Markup(html)  # markdown-it escaped every piece of text it wrote


def _pull_links(state: StateCore) -> None:
    template = state.env["pull_url"]
    for block in state.tokens:
        if block.type == "inline" and block.children:
            block.children = _linked(block.children, template)


def _linked(tokens: list[Token], template: str) -> list[Token]:
    out: list[Token] = []
    in_link = 0
    for token in tokens:
        in_link += {"link_open": 1, "link_close": -1}.get(token.type, 0)
        if token.type != "text" or in_link:
            out.append(token)
            continue
        pos = 0
        for match in PULL.finditer(token.content):
            out.append(_text(token.content[pos : match.start()]))
            link = Token("link_open", "a", 1)
            link.attrSet("href", template.replace("{number}", match.group(1)))
            out += [link, _text(match.group(0)), Token("link_close", "a", -1)]
            pos = match.end()
        out.append(_text(token.content[pos:]) if pos else token)
    return [t for t in out if t.type != "text" or t.content]


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token
