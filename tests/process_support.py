"""Several `tower shell` processes on one database: a project ready to deploy written out as a
tower.toml, shells started in the background, and the database read while they run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from pathlib import Path

from storage.database import Database
from tests.deploy_support import ready_to_deploy
from tests.shell_process import tower_command, tower_env
from tests.toml_out import dumps


async def deployable_config(tmp_path: Path, db_target, clock, **kw) -> tuple[Path, dict[str, str]]:
    """demo 1.3.0 with rc1 cut and a crew (see deploy_support), as a config file and an environment
    for `tower` processes on the test's database."""
    tower = await ready_to_deploy(tmp_path, db_target, clock, **kw)
    config = tmp_path / "tower.toml"
    config.write_text(dumps(tower.settings.model_dump(exclude={"source", "data_dir"})))
    await tower.close()
    return config, tower_env(tmp_path / "data", db_target.env())


def shell(config: Path, env: dict[str, str], cwd: Path, person: str, command: str) -> subprocess.Popen:
    """`tower shell --as PERSON -c COMMAND` in the background, in a session of its own (so that it
    can be killed with the commands it runs)."""
    return subprocess.Popen(
        [*tower_command(), "--config", str(config), "shell", "--as", person, "-c", command],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill_all(proc: subprocess.Popen) -> None:
    """kill -9 the process and what it started; reaped, so its pid is gone."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


async def until(check, timeout: float, every: float = 0.1) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(every)


def database(db_target) -> Database:
    return Database(db_target.url, schema=db_target.schema)
