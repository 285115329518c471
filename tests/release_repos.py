"""A Tower whose demo project lives in a real git repository of the test's making, and a forge
that fails on cue (the real local forge underneath) for retry tests."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import open_tower
from commands.engine.ports import ForgeUnavailable
from commands.engine.settings import Settings
from tests.git_repos import build_repository
from tests.support import make_settings, run

CHANGELOG = """\
# Changelog

## [Unreleased]

### Added

- Pausing block production.

### Fixed

- No stall on clock jumps.

## [1.2.0] - 2026-10-01

### Added

- Health endpoint.

[Unreleased]: https://example.org/demo/compare/v1.2.0...HEAD
[1.2.0]: https://example.org/demo/compare/v1.1.0...v1.2.0
"""


def released_then(changelog: str = CHANGELOG, *later: dict) -> list[dict]:
    """v1.2.0 tagged, then a commit with `changelog`, then any `later` commits."""
    first = (
        CHANGELOG.split("## [Unreleased]", 1)[0] + "## [Unreleased]\n\n## [1.2.0]" + CHANGELOG.split("## [1.2.0]", 1)[1]
    )
    return [
        {
            "message": "Releasing v1.2.0",
            "files": {"CHANGELOG.md": first, "README.md": "# Demo\n"},
            "tag": ("v1.2.0", "v1.2.0"),
        },
        {"message": "feat: pausing", "files": {"CHANGELOG.md": changelog}},
        *later,
    ]


def repo_settings(tmp_path, commits: list[dict] | None = None, **project: object) -> tuple[Settings, list[str]]:
    repo = tmp_path / "repo.git"
    shas = build_repository(repo, commits or released_then())
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"]["demo"].update({"repository": str(repo), "release_branch": "release", **project})
    return Settings.model_validate(data), shas


class FlakyForge:
    """The real forge; the next call to a named method fails — before doing anything, or after
    doing its work (a timeout after the request arrived)."""

    def __init__(self, inner):
        self.inner = inner
        self.fail_before: dict[str, Exception] = {}
        self.fail_after: dict[str, Exception] = {}

    def __getattr__(self, name):
        method = getattr(self.inner, name)

        async def call(*args, **kwargs):
            if name in self.fail_before:
                raise self.fail_before.pop(name)
            result = await method(*args, **kwargs)
            if name in self.fail_after:
                raise self.fail_after.pop(name)
            return result

        return call


class OneForge:
    def __init__(self, forge):
        self.forge = forge

    def for_project(self, project):
        return self.forge

    async def close(self):
        return None


def timeout() -> ForgeUnavailable:
    return ForgeUnavailable("The forge did not answer (ReadTimeout).", "Nothing is known to have changed.")


async def shipped_with_crew(tmp_path, db_target, clock, **project: object):
    """A Tower whose demo 1.3.0 was flown by bob (pilot) and jane (co-pilot) and shipped by bob on
    Monday 2026-11-23 at 10:00 UTC (no deploy pipeline, no checklist)."""
    settings, _ = repo_settings(tmp_path, **{"checklist": [], "ci": None, **project})
    clock.set(datetime(2026, 11, 23, 9, tzinfo=UTC))
    tower = await open_tower(settings, db_target.env(), clock=clock)
    for text in ("/release new demo", "/rotation assign demo", "/release name demo --yes", "/scope freeze demo"):
        assert (await run(tower, text)).ok, text
    assert (await run(tower, "/rc cut demo")).ok
    clock.set(datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert (await run(tower, "/release ship demo", as_="bob")).ok
    return tower
