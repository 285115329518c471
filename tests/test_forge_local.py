"""The local git forge: the Forge contract on a real repository in a temporary directory."""

import pytest

from bot.integrations.forge_local import LocalGitForge
from tests.forge_contract import *  # noqa: F403 - the contract tests
from tests.forge_contract import SEED, Seeded
from tests.git_repos import build_repository, git


def seed_repository(path, bare: bool = True) -> list[str]:
    return build_repository(path, SEED, bare=bare)


@pytest.fixture
async def seeded(tmp_path):
    repo = tmp_path / "repo.git"
    shas = seed_repository(repo)
    forge = LocalGitForge(repo)
    yield Seeded(forge, shas, has_issues=False)
    await forge.close()


async def test_a_checked_out_working_tree_is_never_touched(tmp_path):
    repo = tmp_path / "work"
    shas = seed_repository(repo, bare=False)
    forge = LocalGitForge(repo)
    await forge.commit_files("main", "Releasing v1.3.0", {"api.txt": "v3\n"}, parent_sha=shas[2])
    assert (repo / "api.txt").read_text() == "v2\n"  # the files on disk are the user's
    assert git(repo, "show", "main:api.txt") == "v3\n"


async def test_pushes_branches_and_tags_to_the_configured_remote(tmp_path):
    repo, remote = tmp_path / "repo.git", tmp_path / "remote.git"
    shas = seed_repository(repo)
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "mirror", str(remote))
    forge = LocalGitForge(repo, push_remote="mirror")
    await forge.create_branch("release", shas[2])
    sha = await forge.commit_files("release", "Releasing v1.3.0", {"a.txt": "a\n"}, parent_sha=shas[2])
    await forge.create_tag("v1.3.0-rc1", sha, "rc1")
    assert git(remote, "rev-parse", "release").strip() == sha
    assert git(remote, "rev-parse", "v1.3.0-rc1^{commit}").strip() == sha


async def test_a_missing_repository_is_reported_with_what_to_check(tmp_path):
    from commands.engine.ports import ForgeNotFound

    with pytest.raises(ForgeNotFound, match="does not exist"):
        await LocalGitForge(tmp_path / "nowhere").head("main")


async def test_tags_keep_their_annotation(seeded):
    await seeded.forge.create_tag("v1.3.0-rc1", seeded.shas[2], "Candidate rc1\n\n- Pausing.")
    (tag,) = await seeded.forge.tags("v1.3.0-rc1")
    assert tag.message == "Candidate rc1\n\n- Pausing."
