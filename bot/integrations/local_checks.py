"""What `tower check-config` checks on this machine before anything runs: each local forge's
repository is there, is a git repository and holds the project's main branch — otherwise the
first `/release name` would be where someone finds out."""

from __future__ import annotations

from pathlib import Path

from bot.integrations.forge_local import LocalGitForge
from commands.engine.settings import Settings


def local_forges(settings: Settings) -> dict[str, tuple[LocalGitForge, str]]:
    """Project key -> its local forge (the repository path as the forge reads it) and main branch."""
    return {
        key: (LocalGitForge(Path(project.repository).expanduser()), project.main_branch)
        for key, project in settings.projects.items()
        if project.forge == "local"
    }


async def local_problems(settings: Settings) -> list[str]:
    """One line per problem, naming the key, as configuration errors do."""
    problems = []
    for key, (forge, branch) in local_forges(settings).items():
        problem = await forge.problem(branch)
        if problem:
            problems.append(f"projects.{key}.repository: {problem}")
    return problems
