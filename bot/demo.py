"""The built-in demo: a project and a small team, so Tower can be tried with no configuration.

The demo project's repository is a real local git repository in the data directory, with a
changelog that has unreleased entries, so naming, tagging and deploying work offline.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
from pathlib import Path

from commands.engine.settings import Settings

log = logging.getLogger("tower.demo")

DEMO_SOURCE = "built-in demo"

DEMO_TEAM = {
    # Ids are made up but well-formed, so the demo works against local fake Slack and Discord servers.
    "alice": {"name": "Alice", "slack": "U0DEMOALICE", "discord": "100000000000000001"},
    "bob": {"name": "Bob", "slack": "U0DEMOBOB", "discord": "100000000000000002"},
    "jane": {"name": "Jane", "slack": "U0DEMOJANE", "discord": "100000000000000003"},
    "tobby": {"name": "Tobby", "slack": "U0DEMOTOBBY", "discord": "100000000000000004"},
    "elvis": {"name": "Elvis", "slack": "U0DEMOELVIS", "discord": "100000000000000005"},
}

RELEASED_CHANGELOG = """\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]

## [1.2.0] - 2026-10-01

### Added

- Health endpoint reports the verified layer.

### Fixed

- Peers no longer drop after a network partition heals.
"""

UNRELEASED_ENTRIES = """\
## [Unreleased]

### Added

- Release pages for every deployment.
- Operators can pause block production from the admin API.

### Fixed

- The node no longer stalls when the clock jumps back.
"""


def demo_settings(data_dir: Path) -> Settings:
    return Settings.model_validate({**demo_config(data_dir), "source": DEMO_SOURCE, "data_dir": data_dir})


def demo_config(data_dir: Path) -> dict:
    """The demo as if it were a tower.toml."""
    repo = data_dir / "demo-repo"
    return {
        "team": {"release_managers": ["alice"]},
        "people": DEMO_TEAM,
        "projects": {
            "demo": {
                "name": "Demo",
                "repository": str(repo),
                "forge": "local",
                "changelog": "CHANGELOG.md",
                "tag_scheme": "rc",
                "main_branch": "main",
                "release_branch": "main",
                "timezone": "UTC",
                "simmer_days": 7,
                "roster": ["bob", "jane", "tobby", "elvis"],
                "channels": {"team": ["console:team"], "announce": ["console:announce"]},
                "ci": {"provider": "local", "command": "echo deploying $TOWER_TAG"},
                "checklist": [
                    {"text": "Release notes reviewed", "before": "ship"},
                    {"text": "Upgrade guide written", "before": "ship"},
                    {"text": "Dashboards checked after deploy", "before": "ship"},
                ],
            }
        },
    }


def ensure_demo_repository(path: Path) -> bool:
    """Create the demo repository once: v1.2.0 tagged, then unreleased entries on top. It is bare,
    like a server's: Tower commits with plumbing, and people look at it with `git clone`.
    Returns False (and Tower carries on) if git is not installed."""
    if (path / "HEAD").exists() or (path / ".git").exists():  # bare (as made now) or an older working copy
        return True
    if shutil.which("git") is None:
        log.warning("git is not installed; the demo project has no repository")
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two Towers starting together on one data directory (the shell beside `tower run`, replicas)
    # take turns; the second finds the repository made.
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / "HEAD").exists():
            return True
        return _create_demo_repository(path)


def _create_demo_repository(path: Path) -> bool:
    tmp = path.with_name(path.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Tower demo",
        "GIT_AUTHOR_EMAIL": "demo@tower.invalid",
        "GIT_COMMITTER_NAME": "Tower demo",
        "GIT_COMMITTER_EMAIL": "demo@tower.invalid",
    }

    def git(*args: str) -> None:
        # Ignore the user's global config: signing or hooks there must not break the demo.
        subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
            cwd=tmp,
            env=env,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("symbolic-ref", "HEAD", "refs/heads/main")
    (tmp / "README.md").write_text("# Demo\n\nA project for trying Tower.\n")
    (tmp / "CHANGELOG.md").write_text(RELEASED_CHANGELOG)
    git("add", "-A")
    git("commit", "-q", "-m", "Releasing v1.2.0")
    git("tag", "-a", "v1.2.0", "-m", "v1.2.0")
    (tmp / "CHANGELOG.md").write_text(RELEASED_CHANGELOG.replace("## [Unreleased]\n", UNRELEASED_ENTRIES, 1))
    git("commit", "-q", "-am", "feat: release pages and pausing block production")
    bare = path.with_name(path.name + ".bare-partial")
    shutil.rmtree(bare, ignore_errors=True)
    git("clone", "-q", "--bare", str(tmp), str(bare))
    shutil.rmtree(tmp)
    bare.rename(path)  # appears whole or not at all
    return True
