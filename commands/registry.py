"""The command registry: one declarative spec per command.

Adapters derive everything from it (Discord app commands, Slack slash commands, the console's
parser, completion and help), so adding a command never touches an adapter.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from commands.errors import UsageError
from commands.roles import ANYONE, Role, describe

if TYPE_CHECKING:
    from commands.context import Invocation, Reply
    from commands.services import Services

Handler = Callable[["Invocation", "Services"], Awaitable["Reply"]]


class Kind(StrEnum):
    TEXT = "text"
    PROJECT = "project"
    RELEASE = "release"
    PERSON = "person"
    VERSION = "version"
    DATE = "date"
    INT = "int"
    CHOICE = "choice"
    FLAG = "flag"
    LIST = "list"  # comma-separated words: --tests T12,T13


@dataclass(frozen=True)
class Option:
    name: str
    kind: Kind
    help: str
    positional: bool = False
    required: bool = False
    choices: tuple[str, ...] = ()
    greedy: bool = False  # a last positional TEXT that takes the rest of the words
    max_length: int = 500  # TEXT and LIST: longer is refused (what is stored must fit its column on every database)

    @property
    def metavar(self) -> str:
        return {Kind.FLAG: ""}.get(self.kind, self.name.upper())

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    def usage(self) -> str:
        if self.positional:
            word = self.metavar + ("…" if self.greedy else "")
        elif self.kind is Kind.FLAG:
            word = self.flag
        else:
            shown = "|".join(self.choices) if self.choices else self.metavar
            word = f"{self.flag} {shown}"
        return word if self.required else f"[{word}]"


@dataclass(frozen=True)
class CommandSpec:
    group: str | None
    name: str
    summary: str
    example: str
    handler: Handler
    options: tuple[Option, ...] = ()
    allowed: frozenset[Role] = ANYONE
    mutates: bool = False
    details: str = ""

    @property
    def path(self) -> str:
        return f"{self.group} {self.name}" if self.group else self.name

    @property
    def positionals(self) -> list[Option]:
        return [o for o in self.options if o.positional]

    @property
    def named(self) -> dict[str, Option]:
        return {o.name: o for o in self.options if not o.positional}

    def usage(self) -> str:
        return " ".join([f"/{self.path}", *(o.usage() for o in self.options)])

    def who(self) -> str:
        return describe(self.allowed)

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)


class DuplicateCommand(Exception):
    pass


class Registry:
    """Commands by path. Registration order is the order help lists them in."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str | None, str], CommandSpec] = {}

    def add(self, spec: CommandSpec) -> None:
        key = (spec.group, spec.name)
        if key in self._specs:
            raise DuplicateCommand(f"command /{spec.path} is registered twice")
        if spec.group is None and spec.name in self.groups():
            raise DuplicateCommand(f"command /{spec.name} clashes with the command group /{spec.name}")
        if spec.group is not None and (None, spec.group) in self._specs:
            raise DuplicateCommand(f"command group /{spec.group} clashes with the command /{spec.group}")
        names = [o.name for o in spec.options]
        if len(names) != len(set(names)):
            raise DuplicateCommand(f"command /{spec.path} declares an option twice")
        self._specs[key] = spec

    def extend(self, specs: Iterable[CommandSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def groups(self) -> list[str]:
        seen: dict[str, None] = {}
        for group, _ in self._specs:
            if group is not None:
                seen[group] = None
        return list(seen)

    def in_group(self, group: str) -> list[CommandSpec]:
        return [s for (g, _), s in self._specs.items() if g == group]

    def top_level(self) -> list[CommandSpec]:
        return [s for (g, _), s in self._specs.items() if g is None]

    def get(self, path: str) -> CommandSpec | None:
        words = path.lstrip("/").split()
        if len(words) == 1:
            return self._specs.get((None, words[0]))
        if len(words) == 2:
            return self._specs.get((words[0], words[1]))
        return None

    def has(self, path: str) -> bool:
        return self.get(path) is not None

    def find(self, words: list[str]) -> tuple[CommandSpec, int]:
        """The command the first words name, and how many words that took. Refuses with the
        closest existing command when there is none."""
        if not words:
            raise UsageError("Type a command, for example `/help`.")
        head = words[0].lstrip("/").lower()
        if (None, head) in self._specs:
            return self._specs[(None, head)], 1
        if head in self.groups():
            subs = [s.name for s in self.in_group(head)]
            if len(words) < 2:
                raise UsageError(
                    f"`/{head}` needs a subcommand: {', '.join(subs)}.",
                    f"Try `/help {head}`.",
                )
            sub = words[1].lower()
            if (head, sub) in self._specs:
                return self._specs[(head, sub)], 2
            close = difflib.get_close_matches(sub, subs, n=1, cutoff=0.5)
            hint = f"Did you mean `/{head} {close[0]}`?" if close else f"`/{head}` has: {', '.join(subs)}."
            raise UsageError(f"Unknown command `/{head} {sub}`.", hint)
        names = [g for g in self.groups()] + [s.name for s in self.top_level()]
        close = difflib.get_close_matches(head, names, n=1, cutoff=0.5)
        hint = f"Did you mean `/{close[0]}`?" if close else "Type `/help` to see every command."
        raise UsageError(f"Unknown command `/{head}`.", hint)
