"""What a handler receives: who asked, where, for which command, with which arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commands.engine.roles import Role
    from commands.engine.settings import PersonSettings
    from commands.engine.spec import CommandSpec


@dataclass(frozen=True)
class Caller:
    """Who typed the command, as the platform knows them: before Tower resolves a person."""

    platform: str  # "console", "slack", "discord"
    user_id: str  # console: the person handle; slack: U…; discord: the snowflake
    channel: str | None = None  # "slack:C123", "discord:456", "console"
    display: str | None = None

    @property
    def label(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Invocation:
    spec: CommandSpec
    caller: Caller
    person: PersonSettings | None  # None: a chat user Tower does not know
    roles: frozenset[Role]
    args: dict[str, Any]
    text: str  # the command as typed, for the audit log

    @property
    def platform(self) -> str:
        return self.caller.platform

    @property
    def channel(self) -> str | None:
        return self.caller.channel

    @property
    def actor(self) -> str:
        """The person's handle, or the platform identity of an unknown user."""
        return self.person.handle if self.person else self.caller.label

    @property
    def member(self) -> PersonSettings:
        """The configured person who asked, for handlers of commands that change things: the
        dispatcher refuses those to anyone Tower does not know before the handler runs."""
        assert self.person is not None, f"/{self.spec.path} ran for a user Tower does not know"
        return self.person
