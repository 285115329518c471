"""Help generated from the registry: the list of commands and each command's page."""

from __future__ import annotations

from commands.engine.registry import Registry
from commands.engine.reply import Field, Reply
from commands.engine.roles import Role
from commands.engine.spec import CommandSpec, Kind

_KIND_HINT = {
    Kind.PROJECT: "a project name",
    Kind.RELEASE: "PROJECT (its newest open release), PROJECT@VERSION or PROJECT#NUMBER",
    Kind.PERSON: "a person's name or a mention",
    Kind.VERSION: "a semantic version, e.g. 1.3.0",
    Kind.DATE: "a date, YYYY-MM-DD",
    Kind.INT: "a whole number",
    Kind.LIST: "comma- or space-separated, e.g. T12,T13",
}


def overview(registry: Registry, roles: frozenset[Role], who: str) -> Reply:
    lines: list[str] = []
    for spec in registry:
        mark = "" if roles & spec.allowed else f"  ({spec.who()} only)"
        lines.append(f"`{spec.usage()}` — {spec.summary}{mark}")
    return Reply(
        text=f"Tower runs your releases from chat. Commands, as {who}:",
        sections=["\n".join(lines)],
        footer="Type `/help COMMAND` for details and an example, e.g. `/help release new`.",
    )


def group_help(registry: Registry, group: str) -> Reply:
    specs = registry.in_group(group)
    lines = [f"`{s.usage()}` — {s.summary} ({s.who()})" for s in specs]
    return Reply(
        text=f"`/{group}` commands:",
        sections=["\n".join(lines)],
        footer=f"Type `/help {group} {specs[0].name}` for one of them in detail.",
    )


def command_help(spec: CommandSpec) -> Reply:
    options = []
    for opt in spec.options:
        label = opt.metavar if opt.positional else opt.flag
        extra = _KIND_HINT.get(opt.kind)
        if opt.choices:
            extra = "one of " + ", ".join(opt.choices)
        text = (
            opt.help
            + (f" ({extra})" if extra else "")
            + ("" if opt.required or opt.kind is Kind.FLAG else ", optional")
        )
        options.append(f"`{label}`  {text}")
    sections = [spec.details] if spec.details else []
    if options:
        sections.append("\n".join(options))
    return Reply(
        text=f"`{spec.usage()}` — {spec.summary}",
        sections=sections,
        fields=[Field("Who may run it", spec.who()), Field("Example", f"`{spec.example}`")],
    )
