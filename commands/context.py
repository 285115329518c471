"""What a handler receives (Invocation) and what it returns (Reply), the same on every platform."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from commands.registry import CommandSpec
    from commands.roles import Role
    from commands.settings import PersonSettings


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


@dataclass(frozen=True)
class Field:
    label: str
    value: str
    inline: bool = True


@dataclass(frozen=True)
class Button:
    """A one-click follow-up. `command` is the exact text it runs, so the console can show it."""

    label: str
    command: str
    style: str = "default"  # "primary", "danger" or "default"


@dataclass
class Reply:
    """A portable reply. Plain text with `code` spans only: it renders in Slack, Discord and a tty."""

    text: str
    ok: bool = True
    fields: list[Field] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    footer: str | None = None
    ephemeral: bool = False
    mentions: list[str] = field(default_factory=list)  # handles of people to notify by name
    meta: dict = field(default_factory=dict)  # for machine recipients (pagers); chats ignore it

    @classmethod
    def error(cls, message: str) -> Reply:
        return cls(text=message, ok=False, ephemeral=True)


def reply_to_dict(reply: Reply) -> dict:
    return asdict(reply)


def reply_from_dict(data: dict) -> Reply:
    return Reply(
        text=data["text"],
        ok=data.get("ok", True),
        fields=[Field(**f) for f in data.get("fields", [])],
        sections=list(data.get("sections", [])),
        buttons=[Button(**b) for b in data.get("buttons", [])],
        footer=data.get("footer"),
        ephemeral=data.get("ephemeral", False),
        mentions=list(data.get("mentions", [])),
        meta=dict(data.get("meta", {})),
    )
