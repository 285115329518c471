"""The declaration of one command: its name, typed options, who may run it and its handler.

A spec knows nothing of the registry that holds it or the services its handler gets, so the engine's
modules import in one direction: spec ← context, registry ← services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from commands.engine.reply import Reply
from commands.engine.roles import ANYONE, Role, describe

# A handler is called as handler(invocation, services). Its parameters are typed where it is
# defined; here they stay open, because naming Services would make the spec import the registry.
Handler = Callable[[Any, Any], Awaitable[Reply]]


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
    LIST = "list"  # words separated by commas or spaces: --tests T12,T13


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
