"""Running the real `tower` executable as a user would, for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tower_command() -> list[str]:
    script = Path(sys.executable).parent / "tower"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def tower_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWER_", "SLACK_", "DISCORD_"))}
    env["TOWER_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def run_tower(args: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None, timeout: float = 60):
    return subprocess.run(
        [*tower_command(), *args],
        input=stdin,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
