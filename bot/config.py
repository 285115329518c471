"""Loading Tower's configuration: tower.toml for everything but secrets, the environment for
secrets and per-machine overrides. Nothing is read at import time.

Where the file is: `--config PATH`, else TOWER_CONFIG, else ./tower.toml, else none, and Tower
runs the built-in demo project.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy.engine import make_url

from commands.engine.settings import Settings
from storage.database import sqlite_url

EXAMPLE = Path(__file__).with_name("tower.example.toml")


class ConfigError(Exception):
    """Invalid configuration. Each line names the key and the reason."""

    def __init__(self, source: str, problems: list[str], environment: list[str] | None = None):
        self.source = source
        self.problems = problems
        self.environment = environment or []  # problems with variables, which the file cannot fix
        lines = [f"{source}: {p}" for p in problems] + [f"environment: {p}" for p in self.environment]
        super().__init__("\n".join(lines))


def locate(explicit: str | None, env: Mapping[str, str], cwd: Path | None = None) -> Path | None:
    given = explicit or env.get("TOWER_CONFIG")
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ConfigError(str(path), ["no such file (from " + ("--config" if explicit else "TOWER_CONFIG") + ")"])
        return path
    local = (cwd or Path.cwd()) / "tower.toml"
    return local if local.is_file() else None


def default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tower"


def load(path: Path | None, env: Mapping[str, str]) -> Settings:
    if path is None:
        from bot.demo import DEMO_SOURCE, demo_config

        return parse(demo_config(_data_dir(env, None)), DEMO_SOURCE, env)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(str(path), [f"not valid TOML: {err}"]) from None
    except OSError as err:
        raise ConfigError(str(path), [f"cannot read it: {err.strerror}"]) from None
    return parse(raw, str(path), env)


def parse(raw: dict, source: str, env: Mapping[str, str]) -> Settings:
    given = raw.get("tower")
    tower: dict = given if isinstance(given, dict) else {}
    data = dict(raw)
    data["source"] = source
    data["data_dir"] = _data_dir(env, tower.get("data_dir"))
    # Per-machine overrides: a container binds 0.0.0.0, a test picks a free port.
    pairs = (
        ("TOWER_HTTP_PORT", "http_port"),
        ("TOWER_HTTP_HOST", "http_host"),
        ("TOWER_TICK_SECONDS", "tick_seconds"),
        ("TOWER_ELECTION_SECONDS", "election_seconds"),
        ("TOWER_COMMANDS_IN_PARALLEL", "commands_in_parallel"),
        ("TOWER_BACKLOG_LIMIT", "backlog_limit"),
    )
    overrides = {key: env[var] for var, key in pairs if env.get(var)}
    if overrides:
        data["tower"] = {**tower, **overrides}
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        # A value that came from a variable is the variable's problem, not the file's.
        variables: dict[tuple, str] = {("tower", key): var for var, key in pairs if key in overrides}
        errors = err.errors()
        from_env = [e for e in errors if tuple(e["loc"][:2]) in variables]
        raise ConfigError(
            source,
            [_describe(e) for e in errors if e not in from_env],
            [f"{variables[tuple(e['loc'][:2])]}: {_message(e)} (got {e['input']!r})" for e in from_env],
        ) from None


def database_url(settings: Settings, env: Mapping[str, str]) -> str:
    """TOWER_DATABASE_URL (it may hold a password, so it only comes from the environment), else
    SQLite in the data directory."""
    url = env.get("TOWER_DATABASE_URL")
    if not url:
        return sqlite_url(settings.data_dir / "tower.db")
    password = env.get("TOWER_DATABASE_PASSWORD")  # kept apart, e.g. in the file the database's own image reads
    return make_url(url).set(password=password).render_as_string(hide_password=False) if password else url


def _data_dir(env: Mapping[str, str], configured: object) -> Path:
    chosen = env.get("TOWER_DATA_DIR") or (configured if isinstance(configured, str) else None)
    return Path(chosen).expanduser() if chosen else default_data_dir(env)


def _describe(error: ErrorDetails) -> str:
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc)
    if error["type"] == "extra_forbidden":
        options = _fields_at(error["loc"][:-1])
        close = difflib.get_close_matches(loc[-1], options, n=1, cutoff=0.6)
        hint = (
            f"; did you mean '{close[0]}'?"
            if close
            else (f"; expected one of: {', '.join(options)}" if options else "")
        )
        return f"{key}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{key}: required but missing"
    message = _message(error)
    shown = error.get("input")
    got = f" (got {shown!r})" if isinstance(shown, (str, int, float, bool)) and error["type"] != "value_error" else ""
    # Cross-reference checks name their own keys.
    return f"{key}: {message}{got}" if key else message


def _message(error: ErrorDetails) -> str:
    return error["msg"].removeprefix("Value error, ")


def _fields_at(loc: tuple) -> list[str]:
    """The keys allowed at a place in the file, for 'did you mean' on a typo."""
    model: object = Settings
    parts = list(loc)
    while parts:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(parts.pop(0)))
        if field is None:
            return []
        model = field.annotation
        origin = typing.get_origin(model)
        if origin in (dict, list):
            model = typing.get_args(model)[-1]
            if parts:
                parts.pop(0)  # the table key or list index
        elif origin is not None:  # X | None
            model = next((a for a in typing.get_args(model) if a is not type(None)), None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [n for n in model.model_fields if n not in ("handle", "key", "source", "data_dir")]
    return []


def example_text() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


def environment() -> dict[str, str]:
    """The process's environment, with secrets handed over as files (`NAME_FILE`) read in; a file
    that cannot be read stops Tower with one line naming the variable."""
    from bot.secret_files import SecretFileError, with_secret_files

    try:
        return with_secret_files(os.environ)
    except SecretFileError as err:
        raise SystemExit(f"tower: {err}") from None


@dataclass(frozen=True)
class ChatEnvironment:
    """The chat platforms' secrets and endpoints, from the environment only."""

    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str | None
    discord_token: str | None
    discord_api_url: str | None
    discord_gateway_url: str | None
    discord_guild_ids: list[str]

    @classmethod
    def read(cls, env: Mapping[str, str], settings: Settings) -> ChatEnvironment:
        guild = env.get("DISCORD_GUILD_ID")
        return cls(
            slack_bot_token=env.get("SLACK_BOT_TOKEN") or None,
            slack_signing_secret=env.get("SLACK_SIGNING_SECRET") or None,
            slack_app_token=env.get("SLACK_APP_TOKEN") or None,
            slack_api_url=env.get("SLACK_API_URL") or None,
            discord_token=env.get("DISCORD_TOKEN") or None,
            discord_api_url=env.get("DISCORD_API_URL") or None,
            discord_gateway_url=env.get("DISCORD_GATEWAY_URL") or None,
            discord_guild_ids=[guild] if guild else list(settings.tower.discord_guilds),
        )

    @property
    def slack_mode(self) -> str | None:
        """'socket' with an app token, 'http' with a signing secret, else None."""
        if not self.slack_bot_token:
            return None
        if self.slack_app_token:
            return "socket"
        return "http" if self.slack_signing_secret else None

    def slack_missing(self) -> str:
        if not self.slack_bot_token:
            return "SLACK_BOT_TOKEN is not set"
        return "set SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode)"

    def __repr__(self) -> str:  # never show a secret, even in a debugger or a log line
        return f"ChatEnvironment(slack={self.slack_mode}, discord={'on' if self.discord_token else 'off'})"
