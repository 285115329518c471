"""The Slack app manifest asks for exactly the scopes of the Web API methods Tower calls: a page DM
can always be looked up after an uncertain send (im:history), and nothing unused is asked for."""

from __future__ import annotations

import ast
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.platforms.slack_manifest import APP_TOKEN_METHODS, BOT_SCOPES, METHOD_SCOPES, manifest
from commands.catalog import build_registry

ROOT = Path(__file__).resolve().parent.parent


def web_api_calls() -> set[str]:
    """Every slack_sdk Web API method called anywhere in bot/, as Slack names it (chat.postMessage)."""
    methods = {name for name in dir(AsyncWebClient) if not name.startswith("_") and "_" in name}
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in methods:
                found.add(node.func.attr)
    return {m.replace("_", ".") for m in found}  # slack_sdk's names: the method's dots as underscores


def test_every_method_called_has_its_scopes_and_nothing_else_is_asked():
    assert web_api_calls() == set(METHOD_SCOPES) | set(APP_TOKEN_METHODS)
    wanted = {"commands"} | {s for scopes in METHOD_SCOPES.values() for s in scopes}
    scopes = manifest(build_registry(), public_url="https://tower.example.org")["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == wanted == set(BOT_SCOPES)


def test_a_page_dm_can_be_looked_up_and_no_unused_scope_is_asked():
    scopes = manifest(build_registry(), public_url="https://tower.example.org")["oauth_config"]["scopes"]["bot"]
    assert "im:history" in scopes and "im:write" in scopes
    assert "users:read" not in scopes
