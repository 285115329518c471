"""Which forge each project uses, built once per project from its settings and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from commands.engine.ports import Forge
from commands.engine.settings import ProjectSettings

DEFAULT_TOKEN_ENV = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}


class ProjectForges:
    def __init__(self, env: Mapping[str, str], transport=None):
        self.env = env
        self.transport = transport  # tests may route HTTP forges through httpx.MockTransport
        self._built: dict[str, Forge] = {}

    def for_project(self, project: ProjectSettings) -> Forge:
        if project.key not in self._built:
            self._built[project.key] = self._build(project)
        return self._built[project.key]

    def _build(self, project: ProjectSettings) -> Forge:
        if project.forge == "local":
            from bot.integrations.forge_local import LocalGitForge

            return LocalGitForge(
                Path(project.repository).expanduser(),
                push_remote=project.push_remote,
                tests_command=project.tests_command,
            )
        token_env = project.token_env or DEFAULT_TOKEN_ENV[project.forge]
        token = self.env.get(token_env) or None
        if project.forge == "github":
            from bot.integrations.forge_github import GitHubForge

            return GitHubForge(
                project.repository,
                token,
                project.forge_url or "https://api.github.com",
                token_env=token_env,
                transport=self.transport,
            )
        from bot.integrations.forge_gitlab import GitLabForge

        return GitLabForge(
            project.repository,
            token,
            project.forge_url or "https://gitlab.com/api/v4",
            token_env=token_env,
            transport=self.transport,
        )

    async def close(self) -> None:
        for forge in self._built.values():
            await forge.close()
        self._built.clear()
