"""Turning the words of a command into typed values: projects, releases, people, versions, dates.

Everything here is checked against the configuration only; whether a release exists is decided
by the handler inside its transaction.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date

import semver

from commands.engine.errors import NotFound, UsageError
from commands.engine.settings import PersonSettings, ProjectSettings, Settings
from commands.engine.spec import CommandSpec, Kind, Option

_MENTION = re.compile(r"^<@!?([A-Z0-9]+|\d+)(?:\|[^>]*)?>$")


@dataclass(frozen=True)
class ReleaseRef:
    """`demo` (the newest open release), `demo@1.3.0` (by version) or `demo#2` (by number)."""

    project: ProjectSettings
    version: str | None = None
    number: int | None = None

    def __str__(self) -> str:
        if self.version:
            return f"{self.project.key}@{self.version}"
        if self.number is not None:
            return f"{self.project.key}#{self.number}"
        return self.project.key


# How far from today a date may be: release plans look months ahead, not centuries, and a date at
# the end of the calendar breaks every computation that adds a day to it.
YEARS_AHEAD, YEARS_BACK = 5, 1


def convert(
    spec: CommandSpec, raw: dict[str, object], settings: Settings, today: date | None = None
) -> dict[str, object]:
    return {name: _convert(spec.option(name), value, settings, today) for name, value in raw.items()}


def _convert(opt: Option | None, value: object, settings: Settings, today: date | None = None) -> object:
    assert opt is not None
    if opt.kind is Kind.FLAG:
        return bool(value)
    text = str(value).strip()
    if "\x00" in text:
        raise UsageError(f"{_label(opt)} contains a NUL character, which Tower can't store.")
    if opt.kind in (Kind.TEXT, Kind.LIST) and len(text) > opt.max_length:
        raise UsageError(f"{_label(opt)} is too long ({len(text):,} characters; at most {opt.max_length:,}).")
    if opt.kind is Kind.TEXT:
        if not text:
            raise UsageError(f"{_label(opt)} is empty.", "Write some text, in quotes if it has spaces.")
        return text
    if opt.kind is Kind.PROJECT:
        return project(text, settings)
    if opt.kind is Kind.RELEASE:
        return release_ref(text, settings)
    if opt.kind is Kind.PERSON:
        return person(text, settings)
    if opt.kind is Kind.VERSION:
        return version(text)
    if opt.kind is Kind.DATE:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"{_label(opt)} `{text}` is not a date.", "Write it as YYYY-MM-DD, e.g. `2026-12-01`."
            ) from None
        return within_horizon(day, today or date.today(), _label(opt))
    if opt.kind is Kind.INT:
        number = _whole_number(text)
        if number is None:
            raise UsageError(f"{_label(opt)} `{text[:40]}` is not a whole number Tower can use.")
        return number
    if opt.kind is Kind.CHOICE:
        if text.lower() not in opt.choices:
            raise UsageError(f"{_label(opt)} `{text}` is not one of {', '.join(opt.choices)}.")
        return text.lower()
    if opt.kind is Kind.LIST:
        # Commas or spaces: `--tests "AT-1 AT-2"` and `--tests AT-1,AT-2` mean the same two tests.
        items = tuple(dict.fromkeys(p for p in re.split(r"[,\s]+", text) if p))
        if not items:
            raise UsageError(f"{_label(opt)} is empty.", "Separate items with commas or spaces: `T12,T13`.")
        return items
    raise AssertionError(f"unhandled option kind {opt.kind}")


LARGEST = 2**31 - 1  # the columns are 32-bit integers on PostgreSQL


def within_horizon(day: date, today: date, label: str = "The date") -> date:
    if day.year > today.year + YEARS_AHEAD:
        raise UsageError(
            f"{label} `{day}` is too far ahead.",
            f"Tower plans at most {YEARS_AHEAD} years out, to {today.year + YEARS_AHEAD}.",
        )
    if day.year < today.year - YEARS_BACK:
        raise UsageError(f"{label} `{day}` is too long ago.", f"Tower looks back at most to {today.year - YEARS_BACK}.")
    return day


def _whole_number(text: str) -> int | None:
    """A whole number a column can hold, written in ASCII digits; None otherwise."""
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 10:
        return None
    number = int(text)
    return number if -LARGEST <= number <= LARGEST else None


def _label(opt: Option) -> str:
    return opt.metavar if opt.positional else f"`--{opt.name}`"


def project(text: str, settings: Settings) -> ProjectSettings:
    found = settings.project(text.lower())
    if found is not None:
        return found
    names = sorted(settings.projects)
    close = difflib.get_close_matches(text.lower(), names, n=1, cutoff=0.5)
    if close:
        hint = f"Did you mean `{close[0]}`?"
    elif names:
        hint = f"Known projects: {', '.join(names)}."
    else:
        hint = "No projects are configured; add one under [projects] in tower.toml."
    raise NotFound(f"Unknown project `{text}`.", hint)


def release_ref(text: str, settings: Settings) -> ReleaseRef:
    if "@" in text:
        name, _, ver = text.partition("@")
        return ReleaseRef(project(name, settings), version=str(version(ver)))
    if "#" in text:
        name, _, num = text.partition("#")
        if (_whole_number(num) or 0) < 1:
            raise UsageError(f"`{text[:60]}` is not a release.", f"Write `{name[:30]}#1` for release number 1.")
        return ReleaseRef(project(name, settings), number=int(num))
    return ReleaseRef(project(text, settings))


def version(text: str) -> semver.Version:
    bare = text[1:] if text[:1] in ("v", "V") else text
    try:
        return semver.Version.parse(bare)
    except (ValueError, TypeError):
        raise UsageError(
            f"`{text}` is not a semantic version.", "Write MAJOR.MINOR.PATCH, e.g. `1.3.0` or `2.0.0-rc.1`."
        ) from None


def person(text: str, settings: Settings) -> PersonSettings:
    mention = _MENTION.match(text)
    if mention:
        ident = mention.group(1)
        platform = "discord" if ident.isdigit() else "slack"
        found = settings.person_by_platform_id(platform, ident)
        if found is None:
            raise NotFound(f"{text} is not a person Tower knows.", "Add them under [people] in tower.toml.")
        return found
    handle = text.lstrip("@").lower()
    found = settings.person(handle)
    if found is not None:
        return found
    close = difflib.get_close_matches(handle, sorted(settings.people), n=1, cutoff=0.5)
    hint = (
        f"Did you mean `{close[0]}`?"
        if close
        else f"People: {', '.join(sorted(settings.people)) or 'none configured'}."
    )
    raise NotFound(f"Unknown person `{text}`.", hint)
