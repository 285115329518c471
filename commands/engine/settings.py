"""What Tower knows from its configuration: the team, the people and the projects.

These are the validated shapes only; `bot/config.py` reads them from tower.toml and the
environment. They live here because commands need them and must not import `bot/`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"
_CHANNEL = re.compile(r"^(slack:[A-Z0-9]{6,}|discord:\d{15,21}|console:[a-z0-9_-]+)$")
_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{6,}$")
_DISCORD_ID = re.compile(r"^\d{15,21}$")


class _Strict(BaseModel):
    # Unknown keys are typos far more often than intent: refuse them, naming the key.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name like 'Europe/Berlin' or 'UTC'") from None
    return value


def _check_channel(value: str) -> str:
    if not _CHANNEL.match(value):
        raise ValueError(f"{value!r} is not a channel; write 'slack:C0123ABCD' or 'discord:123456789012345678'")
    return value


class PersonSettings(_Strict):
    handle: str = Field(pattern=NAME_PATTERN)
    name: str | None = None
    slack: str | None = None
    discord: str | None = None
    timezone: str | None = None

    @field_validator("slack")
    @classmethod
    def _slack_id(cls, v: str | None) -> str | None:
        if v is not None and not _SLACK_USER.match(v):
            raise ValueError(f"{v!r} is not a Slack user id (it looks like U0123ABCD)")
        return v

    @field_validator("discord")
    @classmethod
    def _discord_id(cls, v: str | None) -> str | None:
        if v is not None and not _DISCORD_ID.match(v):
            raise ValueError(f"{v!r} is not a Discord user id (a number of 15 to 21 digits)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return None if v is None else _check_timezone(v)

    @property
    def display(self) -> str:
        return self.name or self.handle


class ChannelSettings(_Strict):
    team: list[str] = []
    announce: list[str] = []

    @field_validator("team", "announce")
    @classmethod
    def _channels(cls, v: list[str]) -> list[str]:
        return [_check_channel(c) for c in v]


class CISettings(_Strict):
    provider: Literal["local", "github", "gitlab", "webhook"] = "local"
    command: str | None = None  # local: the deploy command; gets TOWER_* variables
    smoke_command: str | None = None  # local: the smoke test after a deploy (none: the deploy is the test)
    integrate_command: str | None = None  # local: run after the final tag (publish, merge back…)
    retire_command: str | None = None  # local: shut an old deployment down and archive its logs
    # local: variables passed on to the commands besides the allow-listed basics (PATH, HOME, LANG…)
    pass_env: list[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")]] = []
    repository: str | None = None  # github "owner/repo", gitlab project path or id
    workflow: str | None = None  # github workflow file name
    ref: str | None = None
    url: str | None = None  # webhook URL, or API base URL for a self-hosted forge
    token_env: str | None = None  # the environment variable that holds the API token
    trigger_token_env: str | None = None  # gitlab: the variable with the pipeline trigger token
    secret_env: str | None = None  # the variable with the secret that signs CI callbacks (and webhooks)
    poll_seconds: float = Field(default=60, gt=0)  # how often Tower asks the CI, in case a callback is lost
    timeout_seconds: float = Field(default=20, gt=0)  # how long a call to the CI may take

    @model_validator(mode="after")
    def _needs(self) -> CISettings:
        if self.provider == "local" and not self.command:
            raise ValueError("provider 'local' needs 'command' (the deploy command to run)")
        if self.provider == "github" and not (self.repository and self.workflow):
            raise ValueError("provider 'github' needs 'repository' and 'workflow'")
        if self.provider == "gitlab" and not self.repository:
            raise ValueError("provider 'gitlab' needs 'repository'")
        if self.provider == "webhook" and not self.url:
            raise ValueError("provider 'webhook' needs 'url'")
        return self


class ProbeSettings(_Strict):
    kind: Literal["http", "command"] = "http"
    url: str | None = None
    json_path: str | None = None
    command: str | None = None
    expect: Literal["advancing", "equals", "below", "above"] = "advancing"
    value: float | str | None = None
    interval_minutes: int = Field(default=10, ge=1)
    stall_minutes: int = Field(default=60, ge=1)

    @model_validator(mode="after")
    def _needs(self) -> ProbeSettings:
        if self.kind == "http" and not self.url:
            raise ValueError("kind 'http' needs 'url'")
        if self.kind == "command" and not self.command:
            raise ValueError("kind 'command' needs 'command'")
        if self.expect in ("equals", "below", "above") and self.value is None:
            raise ValueError(f"expect {self.expect!r} needs 'value'")
        return self


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]

PageStep = Literal["pilot", "copilot", "previous-pilot", "release-managers"]
PAGE_STEPS: tuple[PageStep, ...] = ("pilot", "copilot", "previous-pilot", "release-managers")


class PagingSettings(_Strict):
    """Who a page reaches, in order, and how long each step waits for an acknowledgement."""

    steps: list[PageStep] = Field(default_factory=lambda: list(PAGE_STEPS), min_length=1)  # a page must reach someone
    escalate_after_minutes: float = Field(default=15, gt=0)
    repeat: bool = True  # after the last step, start again from the first
    pagerduty_routing_key_env: str | None = None  # the variable with a PagerDuty Events v2 routing key
    pagerduty_url: str = "https://events.pagerduty.com"
    webhook_url: str | None = None  # a generic pager: JSON POSTs, HMAC-signed
    webhook_secret_env: str | None = None


class ChecklistItemSettings(_Strict):
    text: str = Field(min_length=1)
    before: Literal["rc", "deploy", "ship"] | None = None


class ProjectSettings(_Strict):
    key: str = Field(pattern=NAME_PATTERN)
    name: str | None = None
    repository: str
    forge: Literal["local", "github", "gitlab"] = "local"
    forge_url: str | None = None  # API base: GitHub Enterprise, self-hosted GitLab (or a test server)
    token_env: str | None = None  # the variable holding the forge token (default GITHUB_TOKEN / GITLAB_TOKEN)
    push_remote: str | None = None  # local forge: also push branches and tags to this remote
    tag_url: str | None = (
        None  # where people browse a tag, e.g. "https://git.example.org/app/tags/{tag}" (github/gitlab: derived)
    )
    changelog: str = "CHANGELOG.md"
    changelog_fragments: str | None = None  # a directory of towncrier-style news fragments
    breaking_before_1_0: Literal["minor", "major"] = "minor"  # what a breaking change bumps before 1.0.0
    tag_scheme: Literal["rc", "build"] = "rc"
    tag_prefix: str = "v"
    main_branch: str = "main"
    release_branch: str = "release"
    timezone: str = "UTC"
    simmer_days: int = Field(default=7, ge=0, le=365)
    release_managers: list[str] = []
    roster: list[str] = []  # people who fly this project's releases, in the order they joined
    jump_seats: int = Field(default=1, ge=0, le=20)  # observers a release may carry (conda's CEP: one)
    require_freeze: bool = True  # cutting a candidate needs a frozen scope
    # Cutting a candidate needs the commit's tests green: Tower asks the forge (GitHub checks and
    # statuses, GitLab commit statuses), or runs `tests_command` on the commit for a local forge.
    require_tests: bool = False
    tests_command: str | None = None  # local forge: a shell command run in a copy of the commit's files
    blackout_weekdays: list[Weekday] = ["friday"]  # no shipping or deploying on these days (conda: no Fridays)
    weekend_days: list[Weekday] = ["saturday", "sunday"]  # never suggested as the next day to ship
    blackout_dates: list[date] = []  # no shipping or deploying on these days (local time)
    reminder_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time of reminders
    report_time: str = Field(default="09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")  # local time of simmer reports
    environments: list[str] = ["production"]  # deploy targets; the first is the default
    post_deploy_steps: list[str] = []  # after a deploy: explorer, dashboard, DNS… each a checklist item
    branch_pointers: dict[str, Literal["deployed", "released"]] = {}  # e.g. devnet = "deployed", testnet = "released"
    all_clear_days: float = Field(default=2, ge=0)  # after shipping, the pilot stays first in line this long
    retire_after_days: float = Field(default=2, ge=0)  # then the previous release's deployment is retired
    announcement: str = "{project} {version} is out. {notes_first_line}\n\nRelease notes: {notes_url}"
    announce_webhooks: list[str] = []  # community webhooks that also get each announcement (JSON POST)
    paging: PagingSettings = PagingSettings()
    channels: ChannelSettings = ChannelSettings()
    ci: CISettings | None = None
    probe: ProbeSettings | None = None
    checklist: list[ChecklistItemSettings] = []

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)

    @model_validator(mode="after")
    def _repository_fits_the_forge(self) -> ProjectSettings:
        if self.forge in ("github", "gitlab") and not re.match(r"^[\w.-]+(/[\w.-]+)+$", self.repository):
            raise ValueError(f"repository {self.repository!r}: a {self.forge} repository is written 'owner/name'")
        if self.tests_command and self.forge != "local":
            raise ValueError(f"tests_command: {self.forge} reports the commit's tests itself; set require_tests = true")
        if self.require_tests and self.forge == "local" and not (self.tests_command or self.tests_reported):
            raise ValueError(
                "require_tests: a local repository has no CI to ask; set tests_command, or ci.secret_env so "
                "the CI can report with a signed tests.passed callback"
            )
        return self

    @property
    def tests_reported(self) -> bool:
        """A local repository's CI reports the commits' tests itself (signed tests.* callbacks)."""
        return self.forge == "local" and self.ci is not None and bool(self.ci.secret_env)

    @property
    def display(self) -> str:
        return self.name or self.key

    def tag_link(self, tag: str) -> str | None:
        """The web page of a tag on the forge, for release pages; None where there is none."""
        if self.tag_url:
            return self.tag_url.replace("{tag}", quote(tag, safe=""))
        if self.forge == "github":  # API base https://api.github.com or https://HOST/api/v3 (Enterprise)
            api = (self.forge_url or "https://api.github.com").rstrip("/")
            web = "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
            return f"{web}/{self.repository}/releases/tag/{quote(tag, safe='')}"
        if self.forge == "gitlab":  # API base https://HOST/api/v4
            web = (self.forge_url or "https://gitlab.com/api/v4").rstrip("/").removesuffix("/api/v4")
            return f"{web}/{self.repository}/-/tags/{quote(tag, safe='')}"
        return None

    def pull_link(self, number: str) -> str | None:
        """The web page of pull (merge) request `number` on the forge, for `#123` in release notes;
        None where the forge has none Tower knows of."""
        if self.forge == "github":
            api = (self.forge_url or "https://api.github.com").rstrip("/")
            web = "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
            return f"{web}/{self.repository}/pull/{number}"
        if self.forge == "gitlab":
            web = (self.forge_url or "https://gitlab.com/api/v4").rstrip("/").removesuffix("/api/v4")
            return f"{web}/{self.repository}/-/merge_requests/{number}"
        return None


class TeamSettings(_Strict):
    release_managers: list[str] = []


class ServerSettings(_Strict):
    data_dir: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    timezone: str = "UTC"
    slack_command_prefix: str = Field(default="", pattern=r"^[a-z0-9_-]{0,10}$")
    discord_guilds: list[str] = []  # sync commands to these guilds at start (instant); else globally
    public_url: str | None = None  # how the world reaches Tower: Slack manifest, CI callbacks, links to release pages
    tick_seconds: float = Field(default=15, gt=0, le=300)  # how often the scheduler looks for due work
    pages_dir: str | None = None  # publish the release pages here (for any static host), kept current
    election_seconds: float = Field(default=5, gt=0, le=30)  # how often a standby replica asks for the scheduler
    commands_in_parallel: int = Field(default=8, ge=1, le=64)  # per process; more wait their turn in order
    backlog_limit: int = Field(default=100, ge=1, le=10_000)  # per process; beyond it the ack says "busy"
    drain_seconds: float = Field(default=0, ge=0, le=120)  # at shutdown, report unready this long before closing
    shard_count: int | None = Field(default=None, ge=1, le=1024)  # Discord: run sharded with this many shards

    @field_validator("discord_guilds")
    @classmethod
    def _guilds(cls, v: list[str]) -> list[str]:
        for guild in v:
            if not _DISCORD_ID.match(guild):
                raise ValueError(f"{guild!r} is not a Discord guild id (a number of 15 to 21 digits)")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return _check_timezone(v)


class Settings(_Strict):
    tower: ServerSettings = ServerSettings()
    team: TeamSettings = TeamSettings()
    people: dict[str, PersonSettings] = {}
    projects: dict[str, ProjectSettings] = {}
    # Where these settings came from, for start-up messages ("built-in demo" or a path).
    source: str = "built-in demo"
    data_dir: Path = Path(".")

    @model_validator(mode="before")
    @classmethod
    def _keys_become_names(cls, data: object) -> object:
        # [people.alice] and [projects.demo] name themselves by their table key.
        if isinstance(data, dict):
            data = dict(data)
            for section, key_field in (("people", "handle"), ("projects", "key")):
                table = data.get(section)
                if isinstance(table, dict):
                    data[section] = {k: ({key_field: k, **v} if isinstance(v, dict) else v) for k, v in table.items()}
        return data

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        known = set(self.people)
        for who in self.team.release_managers:
            if who not in known:
                raise ValueError(f"team.release_managers: {who!r} is not in [people]")
        for key, project in self.projects.items():
            for field_name in ("release_managers", "roster"):
                for who in getattr(project, field_name):
                    if who not in known:
                        raise ValueError(f"projects.{key}.{field_name}: {who!r} is not in [people]")
        for platform in ("slack", "discord"):
            seen: dict[str, str] = {}
            for handle, person in self.people.items():
                ident = getattr(person, platform)
                if ident is None:
                    continue
                if ident in seen:
                    raise ValueError(f"people.{handle}.{platform}: {ident} is already {seen[ident]}'s id")
                seen[ident] = handle
        return self

    def project(self, key: str) -> ProjectSettings | None:
        return self.projects.get(key)

    def person(self, handle: str) -> PersonSettings | None:
        return self.people.get(handle)

    def person_by_platform_id(self, platform: str, user_id: str) -> PersonSettings | None:
        for person in self.people.values():
            if platform in ("slack", "discord") and getattr(person, platform) == user_id:
                return person
        return None

    def release_managers(self, project_key: str | None = None) -> list[str]:
        names = list(self.team.release_managers)
        if project_key and project_key in self.projects:
            names += [n for n in self.projects[project_key].release_managers if n not in names]
        return names
