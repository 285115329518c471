"""The GitLab forge against a fake GitLab over real HTTP: the Forge contract, and the REST calls it makes."""

from __future__ import annotations

import httpx
import pytest

from bot.integrations.forge_gitlab import GitLabForge
from commands.engine.ports import ForgeAuthError, ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable, Issue
from commands.rules.ci_status import Verdict
from tests.fakes.gitlab_server import FakeGitLab
from tests.forge_contract import *  # noqa: F403 - the contract tests run here
from tests.forge_contract import CHANGELOG_NEXT, SEED, Seeded

TOKEN = "glpat-s3cr3t-T0KEN-do-not-show"
PROJECT = "group/project"
API = "/api/v4/projects/group%2Fproject"
TOKEN_ENV = "TOWER_GITLAB_TOKEN"


@pytest.fixture
async def gitlab():
    fake = FakeGitLab(PROJECT, TOKEN, readonly_token="glpat-read-only")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def seeded(gitlab):
    shas = gitlab.seed(SEED)
    forge = GitLabForge(PROJECT, TOKEN, gitlab.api_url, token_env=TOKEN_ENV)
    yield Seeded(forge, shas)
    await forge.close()


@pytest.fixture
async def other_forge(gitlab):
    """Opens a second forge on the fake (other token or project), closed at the end."""
    forges = []

    def make(repository=PROJECT, token=TOKEN):
        forges.append(GitLabForge(repository, token, gitlab.api_url, token_env=TOKEN_ENV))
        return forges[-1]

    yield make
    for forge in forges:
        await forge.close()


def short_timeout(forge: GitLabForge, seconds: float = 0.5) -> None:
    forge.api.client.timeout = httpx.Timeout(seconds)


# -- the exact REST calls -------------------------------------------------------------------------


async def test_commit_files_pins_the_files_checks_the_head_then_posts_one_commit(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    gitlab.calls.clear()
    sha = await forge.commit_files(
        "release",
        "Releasing v1.3.0",
        {"CHANGELOG.md": "new\n", "NEW.md": "hi\n", "changelog.d/12.feature.md": None, "gone.md": None},
        parent_sha=shas[2],
    )
    assert [(c.method, c.path, c.query) for c in gitlab.calls] == [
        ("HEAD", f"{API}/repository/files/CHANGELOG.md", {"ref": shas[2]}),
        ("HEAD", f"{API}/repository/files/NEW.md", {"ref": shas[2]}),
        ("HEAD", f"{API}/repository/files/changelog.d%2F12.feature.md", {"ref": shas[2]}),
        ("HEAD", f"{API}/repository/files/gone.md", {"ref": shas[2]}),
        ("GET", f"{API}/repository/branches/release", {}),  # just before the commit
        ("POST", f"{API}/repository/commits", {}),
    ]
    assert gitlab.calls[-1].json == {
        "branch": "release",
        "commit_message": "Releasing v1.3.0",
        "actions": [
            {"action": "update", "file_path": "CHANGELOG.md", "content": "new\n", "last_commit_id": shas[1]},
            {"action": "create", "file_path": "NEW.md", "content": "hi\n"},
            {"action": "delete", "file_path": "changelog.d/12.feature.md", "last_commit_id": shas[0]},
        ],
    }  # no start_sha: GitLab refuses it on an existing branch unless force, which would drop commits
    assert gitlab.repo.commits[sha].parents == [shas[2]] and gitlab.repo.branches["release"] == sha


async def test_a_pinned_file_changed_just_before_the_commit_is_refused_by_gitlab(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    gitlab.before_next(
        "POST", r"/repository/commits$", lambda repo: repo.push("release", "theirs", {"CHANGELOG.md": "x\n"})
    )
    with pytest.raises(ForgeConflict, match=r"changed since you started editing it: CHANGELOG.md"):
        await forge.commit_files("release", "ours", {"CHANGELOG.md": "ours\n"}, parent_sha=shas[2])
    assert (await forge.head("release")).message == "theirs"  # nothing of ours written


async def test_a_push_to_other_files_in_the_window_is_a_conflict_naming_the_commit(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    theirs = []
    gitlab.before_next(
        "POST", r"/repository/commits$", lambda repo: theirs.append(repo.push("release", "theirs", {"other.md": "x\n"}))
    )
    with pytest.raises(ForgeConflict, match="moved while committing") as err:
        await forge.commit_files("release", "ours", {"CHANGELOG.md": "ours\n"}, parent_sha=shas[2])
    assert theirs[0][:12] in str(err.value)  # the window GitLab leaves open: reported, not prevented
    assert gitlab.repo.commits[gitlab.repo.branches["release"]].parents == [theirs[0]]


async def test_a_commit_whose_answer_was_lost_is_found_when_repeated(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    short_timeout(forge)
    gitlab.timeout_next("POST", r"/repository/commits$")
    with pytest.raises(ForgeUnavailable):
        await forge.commit_files("release", "Releasing", {"CHANGELOG.md": "new\n"}, parent_sha=shas[2])
    written = gitlab.repo.branches["release"]
    assert await forge.commit_files("release", "Releasing", {"CHANGELOG.md": "new\n"}, parent_sha=shas[2]) == written
    assert len(gitlab.calls_to("POST", r"/repository/commits$")) == 1
    with pytest.raises(ForgeConflict):  # the same parent but other contents is not a repeat
        await forge.commit_files("release", "Releasing", {"CHANGELOG.md": "other\n"}, parent_sha=shas[2])


async def test_create_tag_and_create_release_bodies(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_tag("v1.3.0", shas[2], "Release 1.3.0")
    url = await forge.create_release("v1.3.0", "v1.3.0 (Pausing)", "## Added\n")
    assert url == f"{gitlab.base_url}/group/project/-/releases/v1.3.0"
    assert await forge.create_release("v1.3.0", "v1.3.0 (Pausing)", "## Added\n") == url
    release = {"tag_name": "v1.3.0", "name": "v1.3.0 (Pausing)", "description": "## Added\n"}
    assert [(c.method, c.path, c.json, c.status) for c in gitlab.calls] == [
        ("POST", f"{API}/repository/tags", {"tag_name": "v1.3.0", "ref": shas[2], "message": "Release 1.3.0"}, 201),
        ("POST", f"{API}/releases", release, 201),
        ("POST", f"{API}/releases", release, 409),
        ("GET", f"{API}/releases/v1.3.0", None, 200),
    ]
    assert gitlab.repo.tags["v1.3.0"].message == "Release 1.3.0"  # annotated


async def test_issues_are_posted_read_and_put_by_iid(seeded, gitlab):
    forge = seeded.forge
    gitlab.calls.clear()
    opened = await forge.create_issue("Release demo 1.3.0", "- [ ] Notes\n")
    page = f"{gitlab.base_url}/group/project/-/issues/1"
    assert opened == Issue(1, page, "Release demo 1.3.0", "- [ ] Notes\n")  # the iid, not the GitLab-wide id
    assert gitlab.repo.issues[1]["id"] != 1
    assert await forge.get_issue(1) == opened
    edited = await forge.update_issue(1, "Release demo 1.3.0 (named)", "")  # GitLab shows it as null
    assert edited == Issue(1, page, "Release demo 1.3.0 (named)", "")
    assert gitlab.repo.issues[1]["description"] is None
    assert await forge.get_issue(2) is None
    with pytest.raises(ForgeNotFound, match="404"):
        await forge.update_issue(2, "t", "b")
    assert [(c.method, c.path, c.json, c.status) for c in gitlab.calls] == [
        ("POST", f"{API}/issues", {"title": "Release demo 1.3.0", "description": "- [ ] Notes\n"}, 201),
        ("GET", f"{API}/issues/1", None, 200),
        ("PUT", f"{API}/issues/1", {"title": "Release demo 1.3.0 (named)", "description": ""}, 200),
        ("GET", f"{API}/issues/2", None, 404),
        ("PUT", f"{API}/issues/2", {"title": "t", "description": "b"}, 404),
    ]
    assert all(c.headers["PRIVATE-TOKEN"] == TOKEN for c in gitlab.calls)


async def test_issues_need_the_api_scope_a_known_project_and_are_not_opened_twice(seeded, gitlab, other_forge):
    reader = other_forge(token="glpat-read-only")
    with pytest.raises(ForgeAuthError, match="403"):
        await reader.create_issue("t", "b")
    assert not gitlab.repo.issues and await reader.get_issue(1) is None
    with pytest.raises(ForgeNotFound, match="Project Not Found"):
        await other_forge(repository="group/nope").get_issue(1)
    gitlab.fail_next("POST", r"/issues$", status=502)
    with pytest.raises(ForgeUnavailable, match="502"):
        await seeded.forge.create_issue("t", "b")
    assert len(gitlab.calls_to("POST", r"/issues$")) == 2 and not gitlab.repo.issues  # the reader's, and this one
    opened = await seeded.forge.create_issue("t", "b")
    gitlab.fail_next("PUT", r"/issues/1$", status=502)
    assert await seeded.forge.update_issue(opened.number, "t2", "b") == Issue(1, opened.url, "t2", "b")
    assert [c.status for c in gitlab.calls_to("PUT", r"/issues/1$")] == [502, 200]


async def test_create_branch_and_tag_from_a_commit_gitlab_does_not_have(seeded):
    with pytest.raises(ForgeNotFound, match="Invalid reference name"):
        await seeded.forge.create_branch("release", "f" * 40)
    with pytest.raises(ForgeNotFound, match="is invalid"):
        await seeded.forge.create_tag("v9", "f" * 40, "nine")


async def test_every_call_names_the_project_url_encoded_and_carries_the_token(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    assert await forge.read_file("changelog.d/12.feature.md", "main") == "Pause block production.\n"
    with pytest.raises(ForgeNotFound, match="no-such-branch"):
        await forge.read_file("CHANGELOG.md", "no-such-branch")
    await forge.list_dir("changelog.d", "main")
    await forge.head("main")
    await forge.resolve("v1.2.0")
    await forge.tags("v")
    await forge.create_branch("feature/x", shas[2])
    await forge.commit_files("feature/x", "m", {"a/b.md": "1\n"}, parent_sha=shas[2])
    await forge.create_tag("v2", shas[2], "2")
    await forge.create_release("v2", "v2", "")
    await forge.commit_messages("v1.2.0", "main")
    await forge.commit_messages(None, "feature/x")
    # 16: the tags search takes two pages, as GitLab always offers a second (see the pager test)
    assert {c.method for c in gitlab.calls} == {"GET", "HEAD", "POST"} and len(gitlab.calls) == 16
    for call in gitlab.calls:
        assert call.path.startswith(f"{API}/") and call.status < 500, call
        assert call.headers["PRIVATE-TOKEN"] == TOKEN and "Authorization" not in call.headers
    paths = {c.path for c in gitlab.calls}
    assert {
        f"{API}/repository/files/changelog.d%2F12.feature.md/raw",
        f"{API}/repository/branches/feature%2Fx",
        f"{API}/repository/files/a%2Fb.md",
        f"{API}/repository/commits/no-such-branch",
    } <= paths
    assert gitlab.calls_to("GET", r"/compare$")[0].query == {"from": "v1.2.0", "to": "main"}
    assert gitlab.calls_to("GET", r"/repository/commits$")[0].query["ref_name"] == "feature/x"


# -- errors ----------------------------------------------------------------------------------------


async def test_a_wrong_token_is_an_auth_error_naming_the_variable_never_the_token(seeded, gitlab, other_forge):
    with pytest.raises(ForgeAuthError) as err:
        await other_forge(token="glpat-wrong-but-secret").head("main")
    text = str(err.value)
    assert TOKEN_ENV in text and "api scope" in text and "401" in text
    assert "glpat-wrong-but-secret" not in text and TOKEN not in text
    assert gitlab.calls[-1].headers["PRIVATE-TOKEN"] == "glpat-wrong-but-secret"


async def test_no_token_sends_no_header_and_says_the_variable_is_not_set(seeded, gitlab, other_forge):
    with pytest.raises(ForgeAuthError, match=f"{TOKEN_ENV} is not set"):
        await other_forge(token=None).resolve("main")
    assert "PRIVATE-TOKEN" not in gitlab.calls[-1].headers


async def test_a_read_only_token_can_read_but_writing_needs_the_api_scope(seeded, other_forge):
    forge = other_forge(token="glpat-read-only")
    assert await forge.resolve("main") == seeded.shas[2]
    with pytest.raises(ForgeAuthError, match=r"403.*api scope") as err:
        await forge.create_tag("v9", seeded.shas[2], "nine")
    assert "glpat-read-only" not in str(err.value)


async def test_an_unknown_project_is_not_found_even_where_a_missing_thing_is_none(seeded, other_forge):
    forge = other_forge(repository="group/nope")
    for call in (
        forge.head("main"),
        forge.resolve("main"),
        forge.read_file("README.md", "main"),
        forge.list_dir("changelog.d", "main"),
        forge.tags(),
        forge.create_tag("v9", seeded.shas[0], "9"),
    ):
        with pytest.raises(ForgeNotFound, match="Project Not Found") as err:
            await call
        assert TOKEN not in str(err.value)


async def test_tags_of_a_search_come_once_though_gitlab_says_there_is_another_page(seeded, gitlab):
    gitlab.max_per_page = 2
    for n in range(5):
        await seeded.forge.create_tag(f"v1.3.{n}", seeded.shas[2], f"1.3.{n}")
    await seeded.forge.create_tag("w1", seeded.shas[2], "not a v")
    gitlab.calls.clear()
    names = [t.name for t in await seeded.forge.tags("v")]
    assert sorted(names) == ["v1.2.0"] + [f"v1.3.{n}" for n in range(5)]  # each once
    # The first page held every match and still said "next: 2"; page 2 repeated two: Tower stopped there.
    assert [(c.query["page"], c.query["search"]) for c in gitlab.calls] == [("1", "^v"), ("2", "^v")]


async def test_tags_and_commits_without_a_search_follow_the_pages(seeded, gitlab):
    gitlab.max_per_page = 2
    for n in range(4):
        await seeded.forge.create_tag(f"v1.3.{n}", seeded.shas[2], f"1.3.{n}")
    gitlab.calls.clear()
    assert sorted(t.name for t in await seeded.forge.tags()) == ["v1.2.0"] + [f"v1.3.{n}" for n in range(4)]
    assert [c.query["page"] for c in gitlab.calls] == ["1", "2", "3"]
    assert len(await seeded.forge.commit_messages(None, "main")) == 3  # commits paginate too


async def test_a_502_on_a_read_is_retried(seeded, gitlab):
    gitlab.fail_next("GET", r"/repository/branches/main$", status=502)
    assert (await seeded.forge.head("main")).sha == seeded.shas[2]
    assert [c.status for c in gitlab.calls_to("GET", r"/branches/main$")] == [502, 200]


async def test_a_502_on_a_commit_is_not_retried(seeded, gitlab):
    await seeded.forge.create_branch("release", seeded.shas[2])
    gitlab.fail_next("POST", r"/repository/commits$", status=502)
    with pytest.raises(ForgeUnavailable, match="502"):
        await seeded.forge.commit_files("release", "m", {"a.md": "1\n"}, parent_sha=seeded.shas[2])
    assert len(gitlab.calls_to("POST", r"/repository/commits$")) == 1


async def test_a_tag_created_but_answered_too_late_is_not_repeated_and_found_on_retry(seeded, gitlab):
    forge, shas = seeded.forge, seeded.shas
    short_timeout(forge)
    gitlab.timeout_next("POST", r"/repository/tags$", delay=5.0)
    with pytest.raises(ForgeUnavailable, match="did not answer"):
        await forge.create_tag("v1.3.0", shas[2], "1.3.0")
    assert len(gitlab.calls_to("POST", r"/repository/tags$")) == 1  # not repeated blindly
    assert gitlab.repo.tags["v1.3.0"].sha == shas[2]  # yet it happened
    await forge.create_tag("v1.3.0", shas[2], "1.3.0")  # the caller's retry finds it
    assert [(c.method, c.status) for c in gitlab.calls[-2:]] == [("POST", 400), ("GET", 200)]
    with pytest.raises(ForgeConflict, match="already exists"):
        await forge.create_tag("v1.3.0", shas[1], "1.3.0")


async def test_a_server_that_is_gone_is_unavailable(seeded, gitlab):
    await gitlab.stop()
    with pytest.raises(ForgeUnavailable, match="Can't reach GitLab") as err:
        await seeded.forge.head("main")
    assert TOKEN not in str(err.value) and isinstance(err.value, ForgeError)


async def test_the_fake_refuses_start_sha_on_an_existing_branch_like_gitlab(seeded, gitlab):
    # Why commit_files doesn't send start_sha: GitLab's Commits::CreateService refuses it unless force.
    async with httpx.AsyncClient(headers={"PRIVATE-TOKEN": TOKEN}) as client:
        response = await client.post(
            f"{gitlab.api_url}/projects/group%2Fproject/repository/commits",
            json={
                "branch": "main",
                "start_sha": seeded.shas[1],
                "commit_message": "m",
                "actions": [{"action": "update", "file_path": "CHANGELOG.md", "content": CHANGELOG_NEXT + "x"}],
            },
        )
    assert response.status_code == 400 and "already exists" in response.json()["message"]


async def test_commit_checks_read_every_status_and_let_allowed_failures_pass(seeded, gitlab):
    forge, sha = seeded.forge, seeded.shas[-1]
    gitlab.max_per_page = 1  # the statuses come in pages
    assert (await forge.commit_checks(sha)).state == "none"
    gitlab.statuses.status(sha, "build", "success")
    gitlab.statuses.status(sha, "flaky-e2e", "failed", allow_failure=True)
    gitlab.statuses.status(sha, "deploy-docs", "manual")
    assert await forge.commit_checks(sha) == Verdict("pending", "still running: deploy-docs")
    gitlab.statuses.status(sha, "deploy-docs", "skipped")
    assert await forge.commit_checks(sha) == Verdict("passed", "3 checks passed")
    gitlab.statuses.status(sha, "unit", "failed")
    assert await forge.commit_checks(sha) == Verdict("failed", "failed: unit")
