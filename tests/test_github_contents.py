"""Big files, big directories and deletions on GitHub, as its REST description (2022-11-28) says the
contents and git data APIs answer them; and the fake held to that description (repos/get-content,
git/get-tree, git/create-tree), so the forge's tests cannot pass against a kinder GitHub."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.integrations.forge_github import GitHubForge
from tests.fakes.github_server import FakeGitHub
from tests.forge_contract import CHANGELOG_NEXT, SEED

REPO = "acme/demo"
TOKEN = "ghp_s3cretTokenValue0123456789"
BIG_CHANGELOG = CHANGELOG_NEXT + "".join(f"- Entry {n:07d} of a long history.\n" for n in range(40_000))
FRAGMENTS = {f"changelog.d/{n:04d}.feature.md": f"Feature {n}.\n" for n in range(1_205)}
JSON, OBJECT, RAW = "application/vnd.github+json", "application/vnd.github.object+json", "application/vnd.github.raw"


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub(REPO, token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def forge(github) -> AsyncIterator[GitHubForge]:
    forge = GitHubForge(REPO, TOKEN, github.base_url, timeout=10)
    yield forge
    await forge.close()


def seed_big(github: FakeGitHub) -> list[str]:
    return github.seed([*SEED, {"message": "A long history", "files": {"CHANGELOG.md": BIG_CHANGELOG, **FRAGMENTS}}])


async def get(github: FakeGitHub, path: str, accept: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": accept, "X-GitHub-Api-Version": "2022-11-28"}
    async with httpx.AsyncClient(base_url=github.base_url, headers=headers) as client:
        return await client.get(f"/repos/{REPO}/{path}", params=params)


# -- Tower's forge ---------------------------------------------------------------------------------


async def test_a_changelog_over_1_mb_is_read_whole(github, forge):
    seed_big(github)
    assert len(BIG_CHANGELOG.encode()) > 1_000_000
    assert await forge.read_file("CHANGELOG.md", "main") == BIG_CHANGELOG
    assert [c.status for c in github.calls] == [200, 200]  # its metadata, then its blob: no refusal
    assert github.calls[-1].rel.startswith("git/blobs/")


async def test_a_fragments_directory_of_over_1000_files_is_listed_whole(github, forge):
    seed_big(github)
    names = await forge.list_dir("changelog.d", "main")
    assert names is not None and len(names) == 1_207  # the two of SEED and 1,205 more
    assert names[:3] == ["0000.feature.md", "0001.feature.md", "0002.feature.md"]
    assert [c.rel.split("/")[0] for c in github.calls] == ["contents", "git"]


async def test_deleting_files_already_gone_deletes_only_the_others(github, forge):
    shas = github.seed(SEED)
    changes = {"changelog.d/12.feature.md": None, "changelog.d/99.gone.md": None, "gone/too.md": None}
    sha = await forge.commit_files("main", "Consume fragments", changes, parent_sha=shas[2])
    assert github.git.objects[sha]["parents"] == [shas[2]]
    assert await forge.list_dir("changelog.d", "main") == ["13.bugfix.md"]
    [tree] = [c.json["tree"] for c in github.calls if c.method == "POST" and c.rel == "git/trees"]
    assert [e["path"] for e in tree] == ["changelog.d/12.feature.md"]


async def test_deleting_only_files_already_gone_commits_nothing(github, forge):
    shas = github.seed(SEED)
    assert await forge.commit_files("main", "Nothing", {"gone.md": None}, parent_sha=shas[2]) == shas[2]
    assert github.git.refs["refs/heads/main"] == shas[2]
    assert not [c for c in github.calls if c.method in ("POST", "PATCH")]


# -- the fake, held to the description ----------------------------------------------------------------


async def test_the_fake_serves_files_over_1_mb_only_as_raw_or_object(github):
    seed_big(github)
    refused = await get(github, "contents/CHANGELOG.md", JSON)
    assert refused.status_code == 403
    assert refused.json()["errors"] == [{"resource": "Blob", "field": "data", "code": "too_large"}]
    item = (await get(github, "contents/CHANGELOG.md", OBJECT)).json()
    assert (item["type"], item["encoding"], item["content"], item["size"]) == (
        "file",
        "none",
        "",
        len(BIG_CHANGELOG.encode()),
    )
    raw = await get(github, "contents/CHANGELOG.md", RAW)
    assert raw.status_code == 200 and raw.text == BIG_CHANGELOG
    blob = (await get(github, f"git/blobs/{item['sha']}", JSON)).json()
    assert base64.b64decode(blob["content"]).decode() == BIG_CHANGELOG


async def test_the_fake_serves_small_files_inline_in_every_media_type(github):
    github.seed(SEED)
    for accept in (JSON, OBJECT):
        item = (await get(github, "contents/README.md", accept, ref="v1.2.0")).json()
        assert (item["encoding"], base64.b64decode(item["content"]).decode()) == ("base64", "# Demo\n")
    assert (await get(github, "contents/README.md", RAW)).text == "# Demo\n"


async def test_the_fake_lists_1000_entries_of_a_directory_and_the_tree_lists_all(github):
    seed_big(github)
    listing = (await get(github, "contents/changelog.d", JSON)).json()
    assert isinstance(listing, list) and len(listing) == 1_000
    folder = (await get(github, "contents/changelog.d", OBJECT)).json()
    assert folder["type"] == "dir" and len(folder["entries"]) == 1_000
    tree = (await get(github, f"git/trees/{folder['sha']}", JSON)).json()
    assert len(tree["tree"]) == 1_207 and tree["truncated"] is False
    assert {e["type"] for e in tree["tree"]} == {"blob"}


async def test_the_fake_refuses_to_delete_from_a_tree_what_it_does_not_have(github):
    shas = github.seed(SEED)
    base = github.git.objects[shas[2]]["tree"]
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept": JSON, "X-GitHub-Api-Version": "2022-11-28"}
    async with httpx.AsyncClient(base_url=github.base_url, headers=headers) as client:
        for path in ("nothing.md", "changelog.d"):  # absent, and a directory
            entry = {"path": path, "mode": "100644", "type": "blob", "sha": None}
            answer = await client.post(f"/repos/{REPO}/git/trees", json={"base_tree": base, "tree": [entry]})
            assert answer.status_code == 422 and answer.json()["message"] == "GitRPC::BadObjectState"
        entry = {"path": "api.txt", "mode": "100644", "type": "blob", "sha": None}
        assert (await client.post(f"/repos/{REPO}/git/trees", json={"base_tree": base, "tree": [entry]})).is_success
