"""`tower check-config --online` against fake GitHubs and GitLabs that decide access as the services do:
what each token may do, whether dispatches return their run, whether Tower can find its pipelines and
pass its variables; and the command itself, as a user runs it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.integrations.online_checks import check_online
from commands.engine.settings import Settings
from tests.fakes.ci_github import FakeGitHubActions
from tests.fakes.ci_gitlab import FakeGitLabCI
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_tokens import EVERYTHING, Grant
from tests.fakes.gitlab_access import DEVELOPER
from tests.fakes.gitlab_server import FakeGitLab
from tests.shell_process import run_tower, tower_env
from tests.support import make_settings

GH_TOKEN, GL_TOKEN, GL_TRIGGER = "ghp_s3cretCheckToken", "glpat-s3cretCheckToken", "glptt-s3cretTrigger"
ENV = {"GITHUB_TOKEN": GH_TOKEN, "GITLAB_TOKEN": GL_TOKEN, "GITLAB_TRIGGER_TOKEN": GL_TRIGGER}


@dataclass
class Forges:
    github: FakeGitHub
    actions: FakeGitHubActions
    gitlab: FakeGitLab
    pipelines: FakeGitLabCI

    def projects(self) -> dict[str, dict]:
        return {
            "web": {
                "key": "web",
                "repository": "acme/demo",
                "forge": "github",
                "forge_url": self.github.base_url,
                "ci": {
                    "provider": "github",
                    "repository": "acme/demo",
                    "workflow": "deploy.yml",
                    "url": self.actions.base_url,
                },
            },
            "app": {
                "key": "app",
                "repository": "group/project",
                "forge": "gitlab",
                "forge_url": self.gitlab.api_url,
                "ci": {"provider": "gitlab", "repository": "group/project", "url": self.pipelines.api_url},
            },
        }


@pytest.fixture
async def forges() -> AsyncIterator[Forges]:
    async with (
        FakeGitHub("acme/demo", token=GH_TOKEN) as github,
        FakeGitHubActions("acme/demo", "deploy.yml", token=GH_TOKEN) as actions,
        FakeGitLab("group/project", token=GL_TOKEN) as gitlab,
        FakeGitLabCI("group/project", trigger_token=GL_TRIGGER, api_token=GL_TOKEN) as pipelines,
    ):
        github.seed([{"message": "one", "files": {"README.md": "hi\n"}}])
        gitlab.seed([{"message": "one", "files": {"README.md": "hi\n"}}])
        yield Forges(github, actions, gitlab, pipelines)


async def report(tmp_path, forges: Forges, env: dict[str, str] | None = None) -> tuple[str, bool]:
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"] = forges.projects()
    return await check_online(Settings.model_validate(data), ENV if env is None else env)


def lines(text: str, level: str) -> list[str]:
    return [line.strip()[4:].strip() for line in text.splitlines() if line.strip().startswith(level)]


async def test_everything_tower_needs_is_reported_ok(tmp_path, forges):
    text, fine = await report(tmp_path, forges)
    assert fine, text
    ok = " | ".join(lines(text, "ok"))
    assert "may write acme/demo's contents" in ok and "may open and edit issues" in ok
    assert "may start deploy.yml (actions: write)" in ok and "return_run_details" in ok
    assert "run-name carries the operation id" in ok
    assert "has the api scope" in ok and "Maintainer in group/project" in ok
    assert "may read pipeline variables" in ok and "lets Developers and up set pipeline variables" in ok
    assert not lines(text, "FAIL") and GH_TOKEN not in text and GL_TOKEN not in text
    assert not [c for c in forges.github.calls if c.status and c.status >= 400 and c.status != 422]
    assert forges.github.git.refs["refs/heads/main"]  # nothing moved, nothing created that anything references


@pytest.mark.parametrize(
    ("grant", "expected"),
    [
        ({"contents": "read"}, 'may not write acme/demo\'s contents: it needs "contents: write"'),
        ({"issues": "read"}, 'may not open issues in acme/demo: it needs "issues: write"'),
    ],
)
async def test_a_github_token_without_a_permission_tower_uses_is_named(tmp_path, forges, grant, expected):
    forges.github.grant = Grant(EVERYTHING | grant)
    text, fine = await report(tmp_path, forges)
    assert not fine and any(expected in line for line in lines(text, "FAIL")), text


async def test_a_classic_token_without_the_repo_scope_is_named(tmp_path, forges):
    forges.github.grant = Grant.classic("public_repo", "workflow")
    text, fine = await report(tmp_path, forges)
    assert not fine and any("without the repo scope (it has: public_repo, workflow)" in f for f in lines(text, "FAIL"))


async def test_a_token_that_may_not_start_the_workflow_is_named(tmp_path, forges):
    forges.actions.grant = Grant(EVERYTHING | {"actions": "read"})
    text, fine = await report(tmp_path, forges)
    assert not fine and any('may not start deploy.yml: it needs "actions: write"' in f for f in lines(text, "FAIL"))
    assert forges.actions.started == 0


async def test_an_enterprise_server_without_run_details_needs_the_run_name(tmp_path, forges):
    forges.actions.installed_version, forges.actions.run_details = "3.14.2", False
    forges.actions.run_name = "Deploy"
    forges.actions.inputs = ("tag", "version", "operation_id", "pipeline")
    text, fine = await report(tmp_path, forges)
    assert not fine
    assert any("GitHub Enterprise Server 3.14.2" in n and "run-name" in n for n in lines(text, "note"))
    failures = " | ".join(lines(text, "FAIL"))
    assert "lacks the inputs environment, callback_url" in failures
    assert "run-name: tower ${{ inputs.pipeline }} ${{ inputs.operation_id }}" in failures


async def test_a_gitlab_token_with_read_api_only_cannot_commit(tmp_path, forges):
    forges.gitlab.readonly_token = "glpat-readonly"
    text, fine = await report(tmp_path, forges, ENV | {"GITLAB_TOKEN": "glpat-readonly"})
    assert not fine and any("needs the api scope to commit" in f for f in lines(text, "FAIL"))


async def test_a_developer_needs_named_pipelines_and_cant_see_the_variables_rule(tmp_path, forges):
    forges.pipelines.member.role = DEVELOPER
    text, fine = await report(tmp_path, forges)
    assert not fine and any("workflow: name:" in f and "Maintainer" in f for f in lines(text, "FAIL"))
    assert any("Can't see who may set pipeline variables" in n for n in lines(text, "note"))
    forges.pipelines.workflow_name = "Deploy $TOWER_OPERATION_ID"  # named, but not as Tower reads names
    assert not (await report(tmp_path, forges))[1]
    forges.pipelines.workflow_name = "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"
    text, fine = await report(tmp_path, forges)
    assert fine and any(".gitlab-ci.yml names Tower's pipelines" in o for o in lines(text, "ok")), text


async def test_a_project_that_lets_no_one_set_variables_is_told_which_setting_to_change(tmp_path, forges):
    forges.pipelines.variables_role = "no_one_allowed"
    text, fine = await report(tmp_path, forges)
    failures = " | ".join(lines(text, "FAIL"))
    assert not fine and "lets no one set pipeline variables" in failures
    assert "Settings > CI/CD > Variables > Minimum role to use pipeline variables: choose Developer" in failures


async def test_missing_tokens_are_named(tmp_path, forges):
    text, fine = await report(tmp_path, forges, {})
    failures = " | ".join(lines(text, "FAIL"))
    assert not fine and "GITHUB_TOKEN is not set" in failures and "GITLAB_TOKEN is not set" in failures


async def test_the_command_checks_online_and_fails_on_a_problem(tmp_path, forges):
    forges.pipelines.variables_role = "no_one_allowed"
    toml = ['[team]\nrelease_managers = ["ann"]\n\n[people.ann]\nslack = "U0ANN0001"\n']
    for key, project in forges.projects().items():
        ci = ", ".join(f'{k} = "{v}"' for k, v in project.pop("ci").items())
        body = "\n".join(f'{k} = "{v}"' for k, v in project.items() if k != "key")
        toml.append(f"[projects.{key}]\n{body}\nci = {{ {ci} }}\n")
    (tmp_path / "tower.toml").write_text("\n".join(toml))
    env = tower_env(tmp_path / "data", ENV)
    offline = await asyncio.to_thread(run_tower, ["check-config"], tmp_path, env)
    assert offline.returncode == 0 and "2 projects" in offline.stdout and "web (" not in offline.stdout
    online = await asyncio.to_thread(run_tower, ["check-config", "--online"], tmp_path, env)
    assert online.returncode == 1, online.stderr
    assert "web (github acme/demo):" in online.stdout and "app (gitlab group/project):" in online.stdout
    assert "FAIL  group/project lets no one set pipeline variables" in online.stdout
    assert GH_TOKEN not in online.stdout + online.stderr and GL_TRIGGER not in online.stdout + online.stderr
