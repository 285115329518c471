"""`tower check-config --online`: ask each project's GitHub or GitLab whether its tokens and settings let
Tower do its work (checks_github, checks_gitlab), and report what holds and what to change."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping

import httpx

from bot.integrations import checks_github, checks_gitlab
from bot.integrations.ci_github import GitHubActionsCI
from bot.integrations.findings import Finding, fail, guarded, render
from bot.integrations.forge_github import GitHubForge
from bot.integrations.forge_gitlab import GitLabForge
from bot.integrations.forges import DEFAULT_TOKEN_ENV
from bot.integrations.http import ApiClient
from commands.engine.settings import CISettings, ProjectSettings, Settings

GITHUB_API, GITLAB_API = "https://api.github.com", "https://gitlab.com/api/v4"


async def check_online(
    settings: Settings, env: Mapping[str, str], transport: httpx.AsyncBaseTransport | None = None
) -> tuple[str, bool]:
    """The report for every project on GitHub or GitLab, and whether nothing failed."""
    results = []
    for project in settings.projects.values():
        findings = await _forge(project, env, transport)
        if project.ci is not None:
            findings += await _ci(project, project.ci, env, transport)
        if findings:
            results.append((f"{project.key} ({project.forge} {project.repository})", findings))
    if not results:
        return "No project uses GitHub or GitLab: nothing to check online.", True
    return render(results)


async def _forge(project: ProjectSettings, env: Mapping[str, str], transport) -> list[Finding]:
    if project.forge not in ("github", "gitlab"):
        return []
    token_env = project.token_env or DEFAULT_TOKEN_ENV[project.forge]
    if not (token := env.get(token_env)):
        return [fail(f"{token_env} is not set: Tower can't reach {project.repository} on {project.forge}.")]
    if project.forge == "github":
        forge = GitHubForge(
            project.repository, token, project.forge_url or GITHUB_API, token_env=token_env, transport=transport
        )
        return await _closing(forge.api, checks_github.check_repository(forge.api, project.repository, token_env))
    gitlab = GitLabForge(
        project.repository, token, project.forge_url or GITLAB_API, token_env=token_env, transport=transport
    )
    return await _closing(gitlab.api, checks_gitlab.check_project(gitlab.api, project.repository, token_env))


async def _ci(project: ProjectSettings, ci: CISettings, env: Mapping[str, str], transport) -> list[Finding]:
    ref, repository = ci.ref or project.main_branch, ci.repository or ""
    if ci.provider == "github":
        token_env = ci.token_env or "GITHUB_TOKEN"
        if not (token := env.get(token_env)):
            return [fail(f"{token_env} is not set: Tower can't start {ci.workflow}.")]
        actions = GitHubActionsCI(
            repository,
            ci.workflow or "",
            token,
            ref=ref,
            api_url=ci.url or GITHUB_API,
            token_env=token_env,
            transport=transport,
        )
        check = checks_github.check_workflow(actions.api, repository, ci.workflow or "", ref, token_env)
        return await _closing(actions.api, check)
    if ci.provider == "gitlab":
        token_env, trigger_env = ci.token_env or "GITLAB_TOKEN", ci.trigger_token_env or "GITLAB_TRIGGER_TOKEN"
        if not (token := env.get(token_env)):
            return [fail(f"{token_env} is not set: Tower can't find or poll {repository}'s pipelines.")]
        hint = f"Check that {token_env} holds a GitLab access token with the read_api scope that can see {repository}."
        api = ApiClient(
            ci.url or GITLAB_API, {"PRIVATE-TOKEN": token}, service="GitLab", token_hint=hint, transport=transport
        )
        has_trigger = bool(env.get(trigger_env))
        check = checks_gitlab.check_pipelines(api, repository, ref, token_env, trigger_env, has_trigger)
        return await _closing(api, check)
    return []


async def _closing(api: ApiClient, check: Awaitable[list[Finding]]) -> list[Finding]:
    try:
        return await guarded(check)
    finally:
        await api.close()
