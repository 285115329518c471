"""“Tests pass on the commit” reported by the project's own CI: a signed `tests.passed` (or
`tests.failed`) callback about a commit of a local repository, which `/rc cut` then goes by. The
project named in the body is the one whose secret must sign it; a replay changes nothing."""

import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from bot.web import build_web_app
from commands.engine.settings import Settings
from jobs.scheduler import Wakeups
from storage.queries import scope
from tests.ci_callbacks import signed
from tests.git_repos import git
from tests.release_repos import repo_settings
from tests.support import run, snapshot

SECRET, OTHER_SECRET = "demo-callback-secret", "other-callback-secret"
CI = {"provider": "local", "command": "true", "secret_env": "DEMO_CI_SECRET"}


def reported_settings(tmp_path) -> Settings:
    settings, _ = repo_settings(tmp_path, ci=CI, checklist=[], require_tests=True)
    data = settings.model_dump()
    data["projects"]["other"] = {
        **data["projects"]["demo"],
        "key": "other",
        "name": "Other",
        "ci": {**CI, "secret_env": "OTHER_CI_SECRET"},
    }
    return Settings.model_validate(data)


@pytest.fixture
async def named(tmp_path, db_target, clock):
    env = {**db_target.env(), "DEMO_CI_SECRET": SECRET, "OTHER_CI_SECRET": OTHER_SECRET}
    tower = await open_tower(reported_settings(tmp_path), env, clock=clock)
    tower.repo, tower.forge = tmp_path / "repo.git", LocalGitForge(tmp_path / "repo.git")
    try:
        for text in ("/release new demo", "/release name demo --yes", "/scope freeze demo"):
            assert (await run(tower, text)).ok, text
        async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
            tower.client = client
            tower.head = (await tower.forge.head("release")).sha
            yield tower
    finally:
        await tower.close()


async def report(tower, event: str, *, secret=SECRET, delivery: str = "d-1", **fields) -> tuple[int, dict]:
    body = {"event": event, "project": "demo", "commit": tower.head, **fields}
    raw, headers = signed(body, secret, delivery=delivery)
    response = await tower.client.post("/hooks/ci", data=raw, headers=headers)
    return response.status, await response.json()


async def test_without_a_report_the_cut_waits_for_the_ci(named):
    refused = await run(named, "/rc cut demo")
    assert not refused.ok
    assert f"Tests pass on the commit (no CI has reported on {named.head[:10]}" in refused.text
    assert git(named.repo, "tag", "--list", "v1.3.0*") == ""


async def test_a_failed_report_refuses_the_cut_and_a_passed_one_allows_it(named):
    status, answer = await report(named, "tests.failed", detail="test_sync FAILED", delivery="d-1")
    assert status == 200 and answer["outcome"] == f"tests failed on {named.head[:10]}, recorded for demo 1.3.0"
    refused = await run(named, "/rc cut demo")
    assert not refused.ok and "Tests pass on the commit (the CI reported: test_sync FAILED on" in refused.text
    status, _ = await report(named, "tests.passed", detail="412 tests", delivery="d-2")
    assert status == 200
    cut = await run(named, "/rc cut demo")
    assert cut.ok, cut.text
    assert {f.label: f.value for f in cut.fields}["Tests"] == f"the CI reported: 412 tests on {named.head[:10]}"
    assert git(named.repo, "tag", "--list", "v1.3.0*").split() == ["v1.3.0-rc1"]


async def test_a_replayed_report_is_a_duplicate_and_changes_nothing(named):
    assert (await report(named, "tests.passed", delivery="d-1"))[0] == 200
    before = await snapshot(named.services.db)
    status, answer = await report(named, "tests.failed", delivery="d-1")  # the same delivery id again
    assert (status, answer) == (200, {"status": "duplicate"})
    assert await snapshot(named.services.db) == before


async def test_another_projects_secret_cannot_report_on_this_project(named):
    before = await snapshot(named.services.db)
    status, answer = await report(named, "tests.passed", secret=OTHER_SECRET)
    assert (status, answer) == (401, {"error": "bad signature"})
    assert await snapshot(named.services.db) == before


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({"project": "nope"}, 404, "unknown project"),
        ({"commit": "main"}, 400, "commit must be the full hexadecimal id of a commit"),
        ({"commit": None}, 400, "commit must be the full hexadecimal id of a commit"),
        ({"detail": 5}, 400, "detail must be a string"),
    ],
)
async def test_a_malformed_report_is_refused_and_changes_nothing(named, fields, status, error):
    before = await snapshot(named.services.db)
    assert await report(named, "tests.passed", **fields) == (status, {"error": error})
    assert await snapshot(named.services.db) == before


async def test_a_stale_report_is_refused(named):
    body = {"event": "tests.passed", "project": "demo", "commit": named.head}
    raw, headers = signed(body, SECRET, at=int(time.time()) - 3600)
    response = await named.client.post("/hooks/ci", data=raw, headers=headers)
    assert response.status == 401 and (await response.json()) == {"error": "stale timestamp"}


async def test_a_report_for_a_project_with_no_open_release_is_refused_so_the_ci_can_send_it_again(named):
    assert (await run(named, "/release abort demo --reason later")).ok
    before = await snapshot(named.services.db)
    status, answer = await report(named, "tests.passed")
    assert status == 409 and answer == {"error": "demo has no open release; nothing was recorded"}
    assert await snapshot(named.services.db) == before


async def test_a_report_names_only_its_own_projects_releases(named):
    assert (await run(named, "/release new other")).ok
    assert (await report(named, "tests.passed"))[0] == 200
    async with named.services.db.read() as session:
        assert await scope.last_check(session, 2) is None  # other#1 heard nothing
        assert (await scope.last_check(session, 1)).state == "passed"


def test_a_local_project_may_require_tests_reported_by_its_ci(tmp_path):
    assert reported_settings(tmp_path).project("demo").require_tests
    with pytest.raises(ValueError, match=r"set tests_command, or ci\.secret_env"):
        repo_settings(tmp_path / "no-ci", ci=None, require_tests=True)


async def test_a_cut_of_a_commit_reported_green_holds_after_a_later_commit_was_reported_red(named):
    green = named.head
    assert (await report(named, "tests.passed", delivery="d-1"))[0] == 200
    head = await named.forge.head("release")
    named.head = await named.forge.commit_files("release", "wip", {"BROKEN": "1\n"}, parent_sha=head.sha)
    assert (await report(named, "tests.failed", delivery="d-2"))[0] == 200
    assert not (await run(named, "/rc cut demo")).ok  # the branch head is red
    cut = await run(named, f"/rc cut demo --ref {green}")
    assert cut.ok, cut.text
    assert {f.label: f.value for f in cut.fields}["Tests"] == f"the CI reported the tests passed on {green[:10]}"
