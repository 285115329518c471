"""Naming and cutting through GitHub and GitLab (local fake servers), configured as a user would:
`forge`, `repository` and `forge_url` in tower.toml, the token in the environment."""

import re

import pytest

from bot.app import open_tower
from commands.engine.settings import Settings
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import FakeGitLab
from tests.release_repos import released_then
from tests.support import make_settings, run


def hosted_settings(tmp_path, forge: str, repository: str, url: str, **extra: object) -> Settings:
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"]["demo"].update(
        {"forge": forge, "repository": repository, "forge_url": url, "release_branch": "release", **extra}
    )
    return Settings.model_validate(data)


@pytest.fixture(params=["github", "gitlab"])
async def hosted(request, tmp_path, db_target, clock):
    async for tower in _hosted(request, tmp_path, db_target, clock):
        yield tower


@pytest.fixture(params=["github", "gitlab"])
async def gated(request, tmp_path, db_target, clock):
    """As `hosted`, for a project whose cuts need the commit's tests green."""
    async for tower in _hosted(request, tmp_path, db_target, clock, require_tests=True):
        yield tower


async def _hosted(request, tmp_path, db_target, clock, **extra):
    if request.param == "github":
        fake, env = FakeGitHub("acme/demo", token="ghp_secret"), {"GITHUB_TOKEN": "ghp_secret"}
    else:
        fake, env = FakeGitLab("acme/demo", token="glpat-secret"), {"GITLAB_TOKEN": "glpat-secret"}
    async with fake:
        shas = fake.seed(released_then())
        url = fake.base_url if request.param == "github" else fake.api_url
        tower = await open_tower(
            hosted_settings(tmp_path, request.param, "acme/demo", url, **extra), {**db_target.env(), **env}, clock=clock
        )
        tower.fake, tower.shas, tower.kind = fake, shas, request.param
        try:
            yield tower
        finally:
            await tower.close()


async def test_name_and_cut_through_the_forge(hosted):
    await run(hosted, "/release new demo")
    proposal = await run(hosted, "/release name demo")
    assert proposal.text == "Proposed version for demo#1: 1.3.0 (minor bump from 1.2.0, from the changelog)."
    named = await run(hosted, "/release name demo --yes")
    assert named.ok, named.text
    forge = hosted.services.forges.for_project(hosted.settings.projects["demo"])
    head = await forge.head("release")
    assert head.message == "Releasing v1.3.0"
    assert "## [1.3.0] - 2026-11-20" in await forge.read_file("CHANGELOG.md", "release")
    assert (await run(hosted, "/scope freeze demo")).ok
    cut = await run(hosted, "/rc cut demo")
    assert cut.ok and cut.text == f"Cut v1.3.0-rc1 at {head.sha[:10]}."
    assert {t.name: t.commit_sha for t in await forge.tags("v1.3")} == {"v1.3.0-rc1": head.sha}
    assert (await run(hosted, "/release notes demo@1.3.0")).sections[0].startswith("### Added")
    shipped = await run(hosted, '/release ship demo --override "no deploy in this test"')
    assert shipped.ok, shipped.text
    page = {f.label: f.value for f in shipped.fields}["Release page"]
    assert page.startswith("http") and page.rstrip("/").endswith("v1.3.0")
    assert {t.name: t.commit_sha for t in await forge.tags("v1.3.0")}["v1.3.0"] == head.sha


async def test_a_wrong_token_is_reported_with_the_variable_and_changes_nothing(tmp_path, db_target, clock):
    async with FakeGitHub("acme/demo", token="ghp_secret") as fake:
        fake.seed(released_then())
        tower = await open_tower(
            hosted_settings(tmp_path, "github", "acme/demo", fake.base_url),
            {**db_target.env(), "GITHUB_TOKEN": "ghp_wrong"},
            clock=clock,
        )
        try:
            await run(tower, "/release new demo")
            reply = await run(tower, "/release name demo --yes")
        finally:
            await tower.close()
    assert not reply.ok and "GITHUB_TOKEN" in reply.text and "ghp_wrong" not in reply.text
    assert "Nothing was changed." in reply.text


async def test_a_rate_limited_forge_says_until_when_and_changes_nothing(hosted):
    await run(hosted, "/release new demo")
    limits = hosted.fake.limits if hosted.kind == "github" else hosted.fake.throttle
    limits.exhaust(reset_in=3600)
    reply = await run(hosted, "/release name demo --yes")
    assert not reply.ok and "is rate limiting Tower" in reply.text
    assert re.search(r"run the command again after \d\d:\d\d UTC", reply.text, re.IGNORECASE), reply.text
    assert "tower.toml" not in reply.text and "secret" not in reply.text
    assert (await run(hosted, "/release status demo")).text == "demo#1: planning"


def report(tower, sha: str, name: str, outcome: str) -> None:
    """What the project's CI says of a commit, as each forge keeps it."""
    if tower.kind == "github":
        status, conclusion = ("completed", outcome) if outcome in ("success", "failure") else (outcome, None)
        tower.fake.checks.check_run(sha, name, status, conclusion)
    else:
        tower.fake.statuses.status(sha, name, {"failure": "failed"}.get(outcome, outcome))


async def test_a_cut_waits_for_the_commits_tests_on_the_forge(gated):
    for text in ("/release new demo", "/release name demo --yes", "/scope freeze demo"):
        assert (await run(gated, text)).ok, text
    forge = gated.services.forges.for_project(gated.settings.projects["demo"])
    head = await forge.head("release")
    report(gated, head.sha, "unit", "success")
    report(gated, head.sha, "e2e", "in_progress" if gated.kind == "github" else "running")
    waiting = await run(gated, "/rc cut demo")
    assert not waiting.ok and "3. Tests pass on the commit (still running: e2e on " in waiting.text
    assert await forge.tags("v1.3") == []
    report(gated, head.sha, "e2e", "failure")
    assert "(failed: e2e on " in (await run(gated, "/rc cut demo")).text
    report(gated, head.sha, "e2e", "success")
    cut = await run(gated, "/rc cut demo")
    assert cut.ok and {f.label: f.value for f in cut.fields}["Tests"] == f"2 checks passed on {head.sha[:10]}"
