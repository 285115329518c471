"""A project that deploys with local commands, on a real repository, ready to deploy."""

from __future__ import annotations

from bot.app import open_tower
from tests.release_repos import repo_settings
from tests.support import run


async def ready_to_deploy(tmp_path, db_target, clock, *, ci: dict | None = None, env: dict | None = None, **project):
    """A tower whose demo release 1.3.0 has rc1 cut, a crew, and a local CI; `env` joins its environment."""
    ci = {"provider": "local", "command": "true", **(ci or {})}
    settings, _ = repo_settings(tmp_path, ci=ci, checklist=[], **project)
    tower = await open_tower(settings, {**db_target.env(), **(env or {})}, clock=clock)
    tower.repo = tmp_path / "repo.git"
    for text in (
        "/release new demo",
        "/rotation assign demo",
        "/release name demo --yes",
        "/scope freeze demo",
        "/rc cut demo",
    ):
        reply = await run(tower, text)
        assert reply.ok, f"{text}: {reply.text}"
    return tower


async def settle(tower) -> None:
    """Let local CI runs finish, as the shell does between commands."""
    await tower.services.cis.settle()
