"""`tower slack-manifest`: a ready-to-paste Slack app manifest, derived from the registry."""

from __future__ import annotations

from bot.platforms.slack import CATCH_ALL, slash_commands
from commands.engine.registry import Registry

# Every Web API method Tower calls with its bot token, and the scopes Slack's method reference asks
# for. The manifest's scopes are derived from this table, and a test holds it against the calls in
# the code, so a new call cannot go out without its scope (nor a scope stay that nothing uses).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    # replies, reports, announcements; .public posts in public channels the bot was not invited to
    "chat.postMessage": ("chat:write", "chat:write.public"),
    "chat.postEphemeral": ("chat:write",),  # a private answer after its response_url expired
    "chat.update": ("chat:write",),  # corrections of an announcement
    "conversations.open": ("im:write",),  # the direct message that pages a pilot
    # after an uncertain send, look the message up: in channels, private channels and DMs (pages)
    "conversations.history": ("channels:history", "groups:history", "im:history"),
}
# Called with the app-level token (Socket Mode), which carries connections:write, not a bot scope.
APP_TOKEN_METHODS = ("apps.connections.open",)
BOT_SCOPES = ["commands", *dict.fromkeys(scope for scopes in METHOD_SCOPES.values() for scope in scopes)]


def manifest(
    registry: Registry, *, public_url: str | None, prefix: str = "", socket_mode: bool = False, name: str = "Tower"
) -> dict:
    url = (public_url or "https://tower.example.com").rstrip("/") + "/slack/events"
    commands = []
    for command in slash_commands(registry, prefix):
        base = command.lstrip("/").removeprefix(prefix)
        if base == CATCH_ALL:
            description, hint = "Any Tower command; alone, the help", "release status demo"
        elif base in registry.groups():
            subs = registry.in_group(base)
            description = f"Tower: {', '.join(s.name for s in subs)}"
            hint = " | ".join(s.usage().removeprefix(f"/{base} ") for s in subs)
        else:
            spec = registry.get(base)
            assert spec is not None, f"slash_commands lists /{base}, a registered top-level command"
            description, hint = spec.summary, spec.usage().removeprefix(f"/{base}").strip()
        entry = {"command": command, "description": description[:100], "usage_hint": hint[:1000], "should_escape": True}
        if not socket_mode:
            entry["url"] = url
        commands.append(entry)
    settings: dict = {
        "interactivity": {"is_enabled": True},
        "org_deploy_enabled": False,
        "socket_mode_enabled": socket_mode,
        "token_rotation_enabled": False,
    }
    if not socket_mode:
        settings["interactivity"]["request_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Release coordination: versions, candidates, deploys, simmer, ship.",
            "background_color": "#1f2937",
        },
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": BOT_SCOPES}},
        "settings": settings,
    }
