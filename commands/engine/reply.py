"""What a handler returns: a portable reply that renders in Slack, Discord and a terminal."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    """A portable reply. Plain text with `code` spans only: it renders in Slack, Discord and a tty.
    A command it names is written as a code span in the one grammar (`/release status demo`); each
    platform shows it as it runs there (commands.engine.references)."""

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
