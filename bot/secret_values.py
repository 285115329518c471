"""Which values in Tower's environment are secrets, so that no output Tower publishes shows them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy.engine import make_url

from commands.engine.settings import Settings
from commands.rules.redaction import looks_secret


def secret_values(env: Mapping[str, str], settings: Settings) -> list[str]:
    """The values of the variables the configuration names as secrets (every `*_env` key), of any
    variable whose name says it is one, and the database password."""
    named = {value for key, value in _items(settings.model_dump()) if key.endswith("_env") and isinstance(value, str)}
    values = [env[name] for name in named if env.get(name)]
    values += [value for name, value in env.items() if looks_secret(name)]
    url = env.get("TOWER_DATABASE_URL")
    if url:
        try:
            password = make_url(url).password
        except Exception:  # not a URL: nothing to take from it
            password = None
        if password:
            values.append(str(password))
    return values


def _items(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key), inner
            yield from _items(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _items(inner)
