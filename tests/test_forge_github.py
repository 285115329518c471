"""The GitHub forge: the Forge contract, then the exact REST calls, auth, pagination and failures,
against a fake GitHub over real HTTP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import pytest

from bot.integrations.forge_github import GitHubForge
from commands.engine.ports import ForgeAuthError, ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable, Issue
from tests.fakes.github_server import FakeGitHub
from tests.forge_contract import *  # noqa: F403
from tests.forge_contract import CHANGELOG_NEXT, CHANGELOG_V120, SEED, Seeded

REPO = "acme/demo"
TOKEN = "ghp_s3cretTokenValue0123456789"
TOKEN_ENV = "TOWER_GH_TOKEN"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(REPO, token=TOKEN) as fake:
        yield fake


def make_forge(
    github: FakeGitHub, token: str | None = TOKEN, repository: str = REPO, timeout: float = 5.0
) -> GitHubForge:
    return GitHubForge(repository, token, github.base_url, token_env=TOKEN_ENV, timeout=timeout)


@pytest.fixture
async def forge(github) -> AsyncIterator[GitHubForge]:
    forge = make_forge(github)
    yield forge
    await forge.close()


@pytest.fixture
async def seeded(github, forge) -> Seeded:
    return Seeded(forge, github.seed(SEED))


def bodies(github: FakeGitHub, method: str, rel: str, since: int = 0) -> list:
    return [c.json for c in github.calls[since:] if c.method == method and c.rel == rel]


# -- the exact REST calls ------------------------------------------------------------------------


async def test_commit_files_is_blobs_a_tree_on_the_parent_tree_a_commit_and_a_fast_forward(seeded, github):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    start = len(github.calls)
    sha = await forge.commit_files(
        "release",
        "Releasing v1.3.0",
        {"docs/new.md": "new\n", "CHANGELOG.md": "changed\n", "api.txt": None},
        parent_sha=shas[2],
    )
    assert github.calls_since(start) == [
        ("GET", "git/ref/heads/release"),
        ("GET", "contents/"),  # is api.txt there to delete? GitHub refuses to delete what is not
        ("GET", f"git/commits/{shas[2]}"),
        ("POST", "git/blobs"),
        ("POST", "git/blobs"),
        ("POST", "git/trees"),
        ("POST", "git/commits"),
        ("PATCH", "git/refs/heads/release"),
    ]
    blobs = [c.response["sha"] for c in github.calls[start:] if c.rel == "git/blobs"]
    assert bodies(github, "POST", "git/blobs", start) == [
        {"content": "changed\n", "encoding": "utf-8"},
        {"content": "new\n", "encoding": "utf-8"},
    ]
    parent_tree = github.git.objects[shas[2]]["tree"]
    assert bodies(github, "POST", "git/trees", start) == [
        {
            "base_tree": parent_tree,
            "tree": [
                {"path": "CHANGELOG.md", "mode": "100644", "type": "blob", "sha": blobs[0]},
                {"path": "api.txt", "mode": "100644", "type": "blob", "sha": None},
                {"path": "docs/new.md", "mode": "100644", "type": "blob", "sha": blobs[1]},
            ],
        }
    ]
    tree = github.calls[start + 5].response["sha"]
    assert bodies(github, "POST", "git/commits", start) == [
        {"message": "Releasing v1.3.0", "tree": tree, "parents": [shas[2]]}
    ]
    assert bodies(github, "PATCH", "git/refs/heads/release", start) == [{"sha": sha, "force": False}]
    assert github.git.refs["refs/heads/release"] == sha
    assert await forge.read_file("api.txt", "release") is None
    assert await forge.list_dir("docs", "release") == ["new.md"]


async def test_commit_files_on_a_moved_branch_creates_no_objects(seeded, github):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[1])
    start = len(github.calls)
    with pytest.raises(ForgeConflict, match="release is at"):
        await forge.commit_files("release", "late", {"x.txt": "x\n"}, parent_sha=shas[2])
    assert github.calls_since(start) == [("GET", "git/ref/heads/release")]


async def test_a_racing_writer_between_check_and_update_is_a_conflict(seeded, github):
    """GitHub's own fast-forward check (force=false) still protects a branch that moves after our check."""
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    other = await forge.commit_files("release", "other", {"o.txt": "o\n"}, parent_sha=shas[2])
    github.git.refs["refs/heads/release"] = shas[2]  # our check sees the old head...
    github.on_next(
        "PATCH",
        r"/git/refs/heads/release$",  # ...and the other writer lands just before our PATCH
        lambda: github.git.refs.update({"refs/heads/release": other}),
    )
    with pytest.raises(ForgeConflict, match="not a fast forward"):
        await forge.commit_files("release", "mine", {"m.txt": "m\n"}, parent_sha=shas[2])
    assert github.git.refs["refs/heads/release"] == other


async def test_create_tag_makes_a_tag_object_then_its_ref(seeded, github):
    forge, shas = seeded.forge, seeded.shas
    start = len(github.calls)
    await forge.create_tag("v1.3.0", shas[2], "Release 1.3.0")
    assert github.calls_since(start) == [("POST", "git/tags"), ("POST", "git/refs")]
    tag_sha = github.calls[start].response["sha"]
    assert github.calls[start].json == {
        "tag": "v1.3.0",
        "message": "Release 1.3.0",
        "object": shas[2],
        "type": "commit",
    }
    assert github.calls[start + 1].json == {"ref": "refs/tags/v1.3.0", "sha": tag_sha}
    assert github.git.objects[tag_sha]["object"] == {"sha": shas[2], "type": "commit"}
    start = len(github.calls)
    await forge.create_tag("v1.3.0", shas[2], "Release 1.3.0")  # exists: the ref is looked up and peeled
    assert github.calls_since(start) == [
        ("POST", "git/tags"),
        ("POST", "git/refs"),
        ("GET", "git/ref/tags/v1.3.0"),
        ("GET", f"git/tags/{tag_sha}"),
    ]
    assert github.calls[start + 1].status == 422


async def test_create_release_posts_once_and_then_finds_the_existing_one(seeded, github):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_tag("v1.3.0", shas[2], "1.3.0")
    start = len(github.calls)
    url = await forge.create_release("v1.3.0", "Tower v1.3.0", "## Added\n\n- Pausing.\n")
    assert url == f"https://github.com/{REPO}/releases/tag/v1.3.0"
    assert github.calls_since(start) == [("GET", "git/ref/tags/v1.3.0"), ("POST", "releases")]
    assert github.calls[start + 1].json == {
        "tag_name": "v1.3.0",
        "name": "Tower v1.3.0",
        "body": "## Added\n\n- Pausing.\n",
    }
    start = len(github.calls)
    assert await forge.create_release("v1.3.0", "Tower v1.3.0", "again") == url
    assert github.calls_since(start) == [
        ("GET", "git/ref/tags/v1.3.0"),
        ("POST", "releases"),
        ("GET", "releases/tags/v1.3.0"),
    ]
    assert github.releases["v1.3.0"]["body"] == "## Added\n\n- Pausing.\n"


async def test_a_release_for_a_missing_tag_is_refused_rather_than_tagging_the_default_branch(seeded, github):
    with pytest.raises(ForgeNotFound, match=r"no tag 'v9.9.9'"):
        await seeded.forge.create_release("v9.9.9", "v9.9.9", "notes")
    assert not bodies(github, "POST", "releases") and "refs/tags/v9.9.9" not in github.git.refs


async def test_issues_are_posted_read_and_patched_through_the_issues_api(seeded, github):
    forge, start = seeded.forge, len(github.calls)
    opened = await forge.create_issue("Release demo 1.3.0", "- [ ] Notes\n")
    assert opened == Issue(1, f"https://github.com/{REPO}/issues/1", "Release demo 1.3.0", "- [ ] Notes\n")
    assert await forge.get_issue(1) == opened
    edited = await forge.update_issue(1, "Release demo 1.3.0 (named)", "")  # GitHub shows an empty body as null
    assert edited == Issue(1, opened.url, "Release demo 1.3.0 (named)", "")
    assert [(c.method, c.rel, c.json, c.status) for c in github.calls[start:]] == [
        ("POST", "issues", {"title": "Release demo 1.3.0", "body": "- [ ] Notes\n"}, 201),
        ("GET", "issues/1", None, 200),
        ("PATCH", "issues/1", {"title": "Release demo 1.3.0 (named)", "body": ""}, 200),
    ]
    assert github.calls[-1].response["body"] is None and github.issues.items[1]["body"] is None
    assert (await forge.create_issue("second", "")).number == 2
    start = len(github.calls)
    assert await forge.get_issue(7) is None  # 404: the repository is looked at, so a missing one still raises
    assert github.calls_since(start) == [("GET", "issues/7"), ("GET", "")]
    github.issues.items[2]["pull_request"] = {"url": "..."}  # GitHub numbers pull requests with the issues
    assert await forge.get_issue(2) is None
    with pytest.raises(ForgeNotFound, match="404"):
        await forge.update_issue(7, "t", "b")
    other = make_forge(github, repository="acme/nothing")
    try:
        with pytest.raises(ForgeNotFound, match="404"):
            await other.get_issue(1)
    finally:
        await other.close()


async def test_opening_an_issue_is_not_retried_but_editing_it_is(seeded, github):
    github.fail_next("POST", r"/issues$", status=502)
    with pytest.raises(ForgeUnavailable, match="502"):
        await seeded.forge.create_issue("Release demo 1.3.0", "body")
    assert [c.status for c in github.calls if c.rel == "issues"] == [502] and not github.issues.items
    opened = await seeded.forge.create_issue("Release demo 1.3.0", "body")
    github.fail_next("PATCH", r"/issues/1$", status=502)
    assert (await seeded.forge.update_issue(opened.number, "t", "b")).title == "t"
    assert [c.status for c in github.calls if c.method == "PATCH"] == [502, 200]


async def test_reads_use_the_contents_and_commits_apis(seeded, github):
    start = len(github.calls)
    assert await seeded.forge.read_file("README.md", "v1.2.0") == "# Demo\n"
    assert await seeded.forge.head("main")
    assert [(c.method, c.rel, c.query) for c in github.calls[start:]] == [
        ("GET", "contents/README.md", {"ref": "v1.2.0"}),
        ("GET", "commits/heads/main", {}),
    ]
    assert github.calls[start].headers["Accept"] == "application/vnd.github.object+json"


async def test_a_branch_named_like_a_tag_is_not_confused_with_it(seeded):
    assert await seeded.forge.head("v1.2.0") is None
    assert await seeded.forge.read_file("CHANGELOG.md", "v1.2.0") == CHANGELOG_V120


# -- auth and errors -------------------------------------------------------------------------------


async def test_every_request_carries_the_token_and_github_headers(seeded, github):
    await seeded.forge.tags()
    await seeded.forge.create_branch("release", seeded.shas[2])
    assert github.calls
    for call in github.calls:
        assert call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.headers["Accept"] == "application/vnd.github+json"
        assert call.headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert call.headers["User-Agent"] == "tower"


async def test_errors_never_show_the_token(seeded, github):
    errors: list[ForgeError] = []
    for attempt in (
        lambda: seeded.forge.create_branch("main", seeded.shas[0]),
        lambda: seeded.forge.read_file("x", "no-such-ref"),
        lambda: seeded.forge.create_release("nope", "t", "n"),
    ):
        with pytest.raises(ForgeError) as caught:
            await attempt()
        errors.append(caught.value)
    github.fail_next("GET", r"/tags$", status=500)
    with pytest.raises(ForgeUnavailable) as caught:
        await seeded.forge.tags()
    errors.append(caught.value)
    for error in errors:
        assert TOKEN not in f"{error} {error!r} {error.hint}"


@pytest.mark.parametrize("token", ["ghp_wrongToken999", None])
async def test_a_refused_token_is_an_auth_error_naming_the_variable(github, token):
    github.seed(SEED)
    forge = make_forge(github, token=token)
    try:
        with pytest.raises(ForgeAuthError) as caught:
            await forge.read_file("README.md", "main")
    finally:
        await forge.close()
    text = str(caught.value)
    assert "401" in text and TOKEN_ENV in text and "contents: write" in text
    assert ("Bad credentials" if token else "Requires authentication") in text
    assert TOKEN not in text and (token is None or token not in text)
    assert ("Authorization" in github.calls[-1].headers) == bool(token)


async def test_a_missing_repository_is_not_found(github):
    github.seed(SEED)
    forge = make_forge(github, repository="acme/nothing")
    try:
        for attempt in (
            lambda: forge.read_file("README.md", "main"),
            lambda: forge.head("main"),
            lambda: forge.resolve("main"),
            forge.tags,
        ):
            with pytest.raises(ForgeNotFound, match="404"):
                await attempt()
    finally:
        await forge.close()


async def test_an_empty_repository_has_no_head(github, forge):
    assert await forge.head("main") is None and await forge.resolve("main") is None
    assert github.calls[0].status == 409


# -- pagination, retries, ambiguous failures --------------------------------------------------------


async def test_tags_are_collected_across_pages(seeded, github):
    for n in range(5):
        await seeded.forge.create_tag(f"v1.3.{n}", seeded.shas[2], f"1.3.{n}")
    github.max_per_page = 2
    start = len(github.calls)
    tags = await seeded.forge.tags("v1.3.")
    assert sorted(t.name for t in tags) == [f"v1.3.{n}" for n in range(5)]
    assert {t.commit_sha for t in tags} == {seeded.shas[2]}
    pages = github.calls[start:]
    assert [(c.rel, c.query.get("page")) for c in pages] == [("tags", None), ("tags", "2"), ("tags", "3")]
    assert all(c.query["per_page"] == "100" for c in pages)


async def test_commit_messages_are_collected_across_pages(seeded, github):
    github.max_per_page = 1
    everything = await seeded.forge.commit_messages(None, "main")
    since = await seeded.forge.commit_messages("v1.2.0", "main")
    assert [m.splitlines()[0] for m in everything] == [
        "fix!: drop the legacy API",
        "feat: pause block production",
        "Releasing v1.2.0",
    ]
    assert since == everything[:2]
    assert sum(c.rel == "commits" for c in github.calls) == 3
    assert sum(c.rel == "compare/v1.2.0...main" for c in github.calls) == 2


async def test_a_502_on_a_read_is_retried(seeded, github):
    github.fail_next("GET", r"/commits/heads/main$", status=502)
    assert (await seeded.forge.head("main")).sha == seeded.shas[2]
    assert [c.status for c in github.calls if c.rel == "commits/heads/main"] == [502, 200]


async def test_a_ref_written_before_a_timeout_is_checked_not_written_twice(github):
    shas = github.seed(SEED)
    forge = make_forge(github, timeout=0.3)
    try:
        github.timeout_next("POST", r"/git/refs$", delay=5)
        async with asyncio.timeout(10):
            await forge.create_tag("v1.3.0", shas[2], "1.3.0")
            refs = [c for c in github.calls if c.rel == "git/refs"]
            assert [c.status for c in refs] == [201, 422]  # the first was applied, the answer lost
            assert github.calls_since(github.calls.index(refs[-1]) + 1)[0] == ("GET", "git/ref/tags/v1.3.0")
            await forge.create_tag("v1.3.0", shas[2], "1.3.0")  # and the whole thing can run again
            with pytest.raises(ForgeConflict, match="already exists"):
                await forge.create_tag("v1.3.0", shas[1], "elsewhere")
        assert github.git.peel(github.git.refs["refs/tags/v1.3.0"]) == shas[2]
    finally:
        await forge.close()


async def test_a_branch_update_whose_answer_was_lost_is_repeated_safely(github):
    shas = github.seed(SEED)
    forge = make_forge(github, timeout=0.3)
    try:
        await forge.create_branch("release", shas[2])
        github.timeout_next("PATCH", r"/git/refs/heads/release$", delay=5)
        async with asyncio.timeout(10):
            sha = await forge.commit_files("release", "one", {"a.txt": "1\n"}, parent_sha=shas[2])
        assert [c.status for c in github.calls if c.method == "PATCH"] == [200, 200]
        assert github.git.refs["refs/heads/release"] == sha
        assert github.git.objects[sha]["parents"] == [shas[2]]
    finally:
        await forge.close()


async def test_a_stopped_server_is_unavailable(seeded, github):
    await github.stop()
    async with asyncio.timeout(15):
        with pytest.raises(ForgeUnavailable, match="Can't reach GitHub"):
            await seeded.forge.head("main")


async def test_the_fake_wraps_base64_like_github(seeded, github):
    await seeded.forge.read_file("CHANGELOG.md", "main")
    content = github.calls[-1].response["content"]
    assert "\n" in content and base64.b64decode(content).decode() == CHANGELOG_NEXT
