"""Commands about Tower itself: /help and /whoami."""

from __future__ import annotations

from commands.engine.context import Invocation
from commands.engine.errors import UsageError
from commands.engine.help import command_help, group_help, overview
from commands.engine.reply import Field, Reply
from commands.engine.roles import ANYONE
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option


async def help_(inv: Invocation, svc: Services) -> Reply:
    registry = svc.registry
    topic = inv.args.get("command")
    if not topic:
        who = inv.person.handle if inv.person else "a guest (read-only)"
        return overview(registry, inv.roles, who)
    words = str(topic).lstrip("/").lower().split()
    if len(words) == 1 and words[0] in registry.groups():
        return group_help(registry, words[0])
    spec, used = registry.find(words)
    if used < len(words):
        raise UsageError(f"`/{spec.path}` has no subcommand `{words[used]}`.", f"Try `/help {spec.path}`.")
    return command_help(spec)


async def whoami(inv: Invocation, svc: Services) -> Reply:
    settings = svc.settings
    if inv.person is None:
        return Reply(
            text=f"Tower doesn't know you ({inv.caller.label}); you can read everything but change nothing.",
            footer="A release manager can add you under [people] in tower.toml.",
            ephemeral=True,
        )
    p = inv.person
    identities = [f"slack `{p.slack}`" if p.slack else None, f"discord `{p.discord}`" if p.discord else None]
    team_managers = settings.team.release_managers
    managing = [k for k in settings.projects if p.handle in settings.release_managers(k)]
    if p.handle in team_managers:
        role = "release manager of every project"
    elif managing:
        role = "release manager of " + ", ".join(managing)
    else:
        role = "team member"
    fields = [
        Field("Person", f"{p.display} (`{p.handle}`)"),
        Field("Identities", ", ".join(i for i in identities if i) or "none linked"),
        Field("Roles", role),
        Field("Here", f"{inv.platform}" + (f" in {inv.channel}" if inv.channel else "")),
    ]
    return Reply(text=f"You are {p.display}.", fields=fields, ephemeral=True)


COMMANDS = [
    CommandSpec(
        group=None,
        name="help",
        summary="what you can run here, with examples",
        example="/help release abort",
        handler=help_,
        options=(Option("command", Kind.TEXT, "the command to explain", positional=True, greedy=True),),
        allowed=ANYONE,
    ),
    CommandSpec(
        group=None,
        name="whoami",
        summary="your person, identities and roles",
        example="/whoami",
        handler=whoami,
        allowed=ANYONE,
    ),
]
