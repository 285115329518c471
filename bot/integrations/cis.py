"""Which CI each project uses, built once per project from its settings and the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.integrations.ci_local import LocalCommandCI, Report
from bot.integrations.local_runs import RunBook
from commands.engine.ports import CI
from commands.engine.settings import CISettings, ProjectSettings
from storage.database import Database


class ProjectCIs:
    def __init__(self, env: Mapping[str, str], data_dir: Path, db: Database, transport=None):
        self.env, self.data_dir, self.transport = env, data_dir, transport
        self.report: Report | None = None  # set once the services exist: local runs report through it
        self.book = RunBook(db)  # the local runs of this process, for every process to see
        self._built: dict[str, CI] = {}

    def for_project(self, project: ProjectSettings) -> CI | None:
        if project.ci is None:
            return None
        if project.key not in self._built:
            self._built[project.key] = self._build(project, project.ci)
        return self._built[project.key]

    def _build(self, project: ProjectSettings, ci: CISettings) -> CI:
        if ci.provider == "local":
            return LocalCommandCI(
                project.key, ci, self._report, self.data_dir / "ci" / project.key, self.book, env=self.env
            )
        if ci.provider == "github":
            from bot.integrations.ci_github import GitHubActionsCI

            token_env = ci.token_env or "GITHUB_TOKEN"
            assert ci.repository and ci.workflow, "CISettings requires repository and workflow for github"
            return GitHubActionsCI(
                ci.repository,
                ci.workflow,
                self.env.get(token_env),
                ref=ci.ref or project.main_branch,
                api_url=ci.url or "https://api.github.com",
                token_env=token_env,
                timeout=ci.timeout_seconds,
                transport=self.transport,
            )
        if ci.provider == "gitlab":
            from bot.integrations.ci_gitlab import GitLabPipelineCI

            trigger_env, api_env = ci.trigger_token_env or "GITLAB_TRIGGER_TOKEN", ci.token_env or "GITLAB_TOKEN"
            assert ci.repository, "CISettings requires repository for gitlab"
            return GitLabPipelineCI(
                ci.repository,
                self.env.get(trigger_env),
                ref=ci.ref or project.main_branch,
                api_url=ci.url or "https://gitlab.com/api/v4",
                api_token=self.env.get(api_env),
                timeout=ci.timeout_seconds,
                transport=self.transport,
                trigger_token_env=trigger_env,
                api_token_env=api_env,
            )
        from bot.integrations.ci_webhook import WebhookCI

        secret_env = ci.secret_env or "TOWER_CI_WEBHOOK_SECRET"
        assert ci.url, "CISettings requires url for webhook"
        return WebhookCI(
            ci.url,
            self.env.get(secret_env) or "",
            timeout=ci.timeout_seconds,
            transport=self.transport,
            secret_env=secret_env,
        )

    async def _report(self, event: dict) -> object:
        assert self.report is not None, "the CI reporter is wired by the composition root"
        return await self.report(event)

    def running(self) -> int:
        """How many local runs this process has going."""
        return sum(ci.running() for ci in self._built.values() if isinstance(ci, LocalCommandCI))

    async def settle(self, timeout: float | None = 30.0) -> None:
        """Let local runs in progress finish (the shell waits for them between commands)."""
        for ci in self._built.values():
            if isinstance(ci, LocalCommandCI):
                await ci.settle(timeout)

    async def close(self) -> None:
        for ci in self._built.values():
            await ci.close()
        self._built.clear()
        await self.book.abandon()  # runs whose commands were just stopped: failed, for all to see
        self.book.close()
