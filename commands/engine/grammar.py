"""The one command grammar: `/release abort demo --reason "wrong branch"`.

Words after `--` are named options, other words are positional, quotes group words. Chat clients
rewrite what people type, so curly quotes group like straight ones and an em dash (the macOS
autocorrection of `--`) starts an option like `--`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from commands.engine.errors import UsageError
from commands.engine.spec import CommandSpec, Kind

_CLOSERS = {'"': '"\u201d', "'": "'\u2019", "\u201c": '\u201d"', "\u2018": "\u2019'", "\u201e": '\u201c\u201d"'}
_DASHES = ("\u2014", "\u2013")  # em dash, en dash


@dataclass(frozen=True)
class Token:
    value: str
    quoted: bool = False


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        value: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            ch = text[i]
            # A quote opens only at the start of a word or right after `=` (`--reason="a b"`);
            # elsewhere it is an apostrophe, as in "don't".
            if ch in _CLOSERS and (not value or value[-1] == "="):
                end = _find_close(text, i + 1, _CLOSERS[ch])
                if end < 0:
                    raise UsageError(f"Unclosed quote {ch} in `{text[i : i + 30]}`.", "Close it, or drop the quote.")
                value.append(text[i + 1 : end])
                quoted = quoted or not value[:-1]
                i = end + 1
            else:
                value.append(ch)
                i += 1
        tokens.append(Token("".join(value), quoted))
    return tokens


def _find_close(text: str, start: int, closers: str) -> int:
    for j in range(start, len(text)):
        if text[j] in closers:
            return j
    return -1


def _option_name(token: Token) -> str | None:
    """The option a token names (`--reason`, `—reason`), or None for an ordinary word."""
    if token.quoted:
        return None
    v = token.value
    if v.startswith("--") and len(v) > 2:
        return v[2:]
    if v[:1] in _DASHES and len(v) > 1 and v[1:2] not in _DASHES:
        return v[1:]
    return None


def parse(spec: CommandSpec, tokens: list[Token]) -> dict[str, object]:
    """Match words to the spec's options. Values stay strings (flags: True); converting them to
    projects, versions or dates is `commands.engine.arguments`' job."""
    named = spec.named
    values: dict[str, object] = {}
    positional: list[str] = []
    only_positional = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if not tok.quoted and tok.value == "--" and not only_positional:
            only_positional = True
            continue
        word = None if only_positional else _option_name(tok)
        if word is None:
            positional.append(tok.value)
            continue
        name, has_value, inline = word.partition("=")
        name = name.lower().replace("_", "-")
        opt = named.get(name)
        if opt is None:
            raise UsageError(f"`/{spec.path}` has no option `--{name}`.", _suggest(spec, name))
        if name in values:
            raise UsageError(f"`--{name}` is given twice.", "Give it once.")
        if opt.kind is Kind.FLAG:
            if has_value:
                raise UsageError(f"`--{name}` is a switch and takes no value.", f"Write just `--{name}`.")
            values[name] = True
            continue
        if has_value:
            values[name] = inline
        elif i < len(tokens) and _option_name(tokens[i]) is None:
            values[name] = tokens[i].value
            i += 1
        else:
            raise UsageError(f"`--{name}` needs a value.", f"Write `{opt.usage().strip('[]')}`.")
    _assign_positionals(spec, positional, values)
    for opt in spec.options:
        if opt.required and opt.name not in values:
            what = opt.metavar if opt.positional else f"--{opt.name}"
            raise UsageError(f"`/{spec.path}` needs {what}.", f"Usage: `{spec.usage()}`")
    return values


def _assign_positionals(spec: CommandSpec, words: list[str], values: dict[str, object]) -> None:
    slots = spec.positionals
    for slot in slots:
        if not words:
            return
        if slot.greedy:
            values[slot.name] = " ".join(words)
            words = []
        else:
            values[slot.name] = words.pop(0)
    if words:
        extra = words[0]
        hint = (
            f'Put text with spaces in quotes, e.g. `--reason "{" ".join(words)}"`.'
            if any(not o.positional and o.kind is Kind.TEXT for o in spec.options)
            else f"Usage: `{spec.usage()}`"
        )
        raise UsageError(f"Unexpected `{extra}` after `/{spec.path}`.", hint)


def _suggest(spec: CommandSpec, name: str) -> str:
    options = [o.name for o in spec.options if not o.positional]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"Did you mean `--{close[0]}`?"
    if options:
        return "Its options: " + ", ".join(f"`--{o}`" for o in options) + "."
    return f"Usage: `{spec.usage()}`"


def unparse(spec: CommandSpec, values: dict[str, object]) -> str:
    """The command as someone would have typed it: how options picked from Discord's form are
    written in the audit log, and how a button carries its command."""
    words = [f"/{spec.path}"]
    for opt in spec.options:
        if opt.name not in values or values[opt.name] is None:
            continue
        value = values[opt.name]
        if opt.kind is Kind.FLAG:
            if value:
                words.append(f"--{opt.name}")
            continue
        text = _quote(str(value))
        words.append(text if opt.positional else f"--{opt.name} {text}")
    return " ".join(words)


def _quote(text: str) -> str:
    if (
        text
        and not any(c.isspace() for c in text)
        and text[0] not in _CLOSERS
        and not text.startswith(("--", *_DASHES))
    ):
        return text
    # A quote whose closing marks do not occur in the text; with every kind inside, it cannot be
    # written exactly, and the double quote is the least surprising.
    quote = next((q for q in ('"', "'") if not any(c in text for c in _CLOSERS[q])), '"')
    return f"{quote}{text}{quote}"
