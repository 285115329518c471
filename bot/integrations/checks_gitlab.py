"""`tower check-config --online` on GitLab: the tokens' scopes and their user's role, who may set
pipeline variables, and whether Tower can find its pipelines again. It only reads: the token itself
(GET /personal_access_tokens/self), the project as the token's user sees it (GET /projects/:id, whose
CI/CD settings GitLab shows only to Maintainers) and the project's .gitlab-ci.yml."""

from __future__ import annotations

import re
from urllib.parse import quote

from bot.integrations.ci_gitlab import VARIABLES_SETTING, WORKFLOW_NAME
from bot.integrations.findings import Finding, fail, note, ok
from bot.integrations.http import ApiClient

ROLES = {10: "Guest", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}
DEVELOPER, MAINTAINER = 30, 40


async def check_project(api: ApiClient, project: str, token_env: str) -> list[Finding]:
    """The forge: the api scope (commits, tags, releases, issues) and a role that may push."""
    findings = [await _scopes(api, token_env, needs={"api"}, purpose="to commit, tag and open issues")]
    role, _ = await _project(api, project)
    if role is None:
        return [*findings, fail(f"{token_env} can't see {project}: check the repository in tower.toml.")]
    if role >= DEVELOPER:
        findings.append(ok(f"{token_env}'s user is {ROLES.get(role, role)} in {project}: it may push and tag."))
    else:
        findings.append(fail(f"{token_env}'s user is {ROLES.get(role, role)} in {project}: pushing needs Developer."))
    return findings


async def check_pipelines(
    api: ApiClient, project: str, ref: str, token_env: str, trigger_env: str, has_trigger: bool
) -> list[Finding]:
    """The CI: a trigger token, an API token that can find and poll pipelines, variables allowed."""
    findings = [] if has_trigger else [fail(f"{trigger_env} is not set: Tower can't start pipelines.")]
    findings.append(await _scopes(api, token_env, needs={"read_api", "api"}, purpose="to find and poll pipelines"))
    role, settings = await _project(api, project)
    if role is None:
        return [*findings, fail(f"{token_env} can't see {project}: check ci.repository in tower.toml.")]
    if role >= MAINTAINER:
        findings.append(ok(f"{token_env}'s user is {ROLES.get(role, role)}: it may read pipeline variables."))
    elif await _names_pipelines(api, project, ref, settings.get("ci_config_path") or ".gitlab-ci.yml"):
        findings.append(ok(f".gitlab-ci.yml names Tower's pipelines: {token_env} finds them without variables."))
    else:
        findings.append(
            fail(
                f"{token_env}'s user is {ROLES.get(role, role)}, and GitLab shows pipeline variables only to "
                f"Maintainers: Tower can't find its pipelines. Add `{WORKFLOW_NAME}` to .gitlab-ci.yml on "
                f"{ref!r}, or make the user a Maintainer."
            )
        )
    findings.append(_variables_rule(settings.get("ci_pipeline_variables_minimum_override_role"), project))
    return findings


def _variables_rule(minimum: str | None, project: str) -> Finding:
    if minimum is None:  # shown to Maintainers only
        return note(
            f"Can't see who may set pipeline variables in {project} (Maintainers can). If triggers are refused "
            f"with 'Insufficient permissions to set pipeline variables': {VARIABLES_SETTING}."
        )
    if minimum == "no_one_allowed":
        return fail(
            f"{project} lets no one set pipeline variables, so GitLab refuses every pipeline Tower triggers. "
            f"{VARIABLES_SETTING}: choose Developer."
        )
    if minimum == "developer":
        return ok(f"{project} lets Developers and up set pipeline variables: Tower's triggers pass them.")
    return note(f"{project} lets only {minimum}s set pipeline variables: the trigger token's owner must be one.")


async def _scopes(api: ApiClient, token_env: str, needs: set[str], purpose: str) -> Finding:
    answer = await api.request("GET", "personal_access_tokens/self", ok=(404,))
    if answer.status_code == 404:  # GitLab before 15.5, or a token of another kind
        return note(f"Can't read {token_env}'s scopes here; it needs {' or '.join(sorted(needs))} {purpose}.")
    scopes = answer.json().get("scopes") or []
    if needs & set(scopes):
        return ok(f"{token_env} has the {' and '.join(s for s in scopes if s in needs)} scope {purpose}.")
    return fail(f"{token_env} needs the {' or '.join(sorted(needs))} scope {purpose} (it has {', '.join(scopes)}).")


async def _project(api: ApiClient, project: str) -> tuple[int | None, dict]:
    answer = await api.request("GET", f"projects/{quote(project, safe='')}", ok=(404,))
    if answer.status_code == 404:
        return None, {}
    body = answer.json()
    access = body.get("permissions") or {}
    levels = [(a or {}).get("access_level") or 0 for a in (access.get("project_access"), access.get("group_access"))]
    return max(levels), body


async def _names_pipelines(api: ApiClient, project: str, ref: str, path: str) -> bool:
    answer = await api.request(
        "GET",
        f"projects/{quote(project, safe='')}/repository/files/{quote(path, safe='')}/raw",
        params={"ref": ref},
        ok=(404,),
    )
    text = answer.text if answer.status_code == 200 else ""
    # Tower judges a pipeline by its name only when it reads "tower …" (ci_gitlab.NAME_PREFIX).
    return bool(re.search(r"^\s+name:\s*[\"']?tower .*\$\{?TOWER_OPERATION_ID\b", text, re.MULTILINE))
