"""“Tests pass on the commit”: Tower runs the project's tests_command on the commit a candidate would
be cut from (a local forge has no CI to ask), ticks its own checklist item and gates `/rc cut` on it."""

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from tests.git_repos import git
from tests.release_repos import repo_settings
from tests.support import run, snapshot

# Runs in a copy of the commit's files: fails while the commit holds BROKEN.
TESTS = "echo running the tests on $TOWER_COMMIT; if test -f BROKEN; then echo 'test_sync FAILED' >&2; exit 1; fi"


@pytest.fixture
async def named(tmp_path, db_target, clock):
    settings, _ = repo_settings(tmp_path, ci=None, checklist=[], require_tests=True, tests_command=TESTS)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo, tower.forge = tmp_path / "repo.git", LocalGitForge(tmp_path / "repo.git")
    for text in ("/release new demo", "/release name demo --yes", "/scope freeze demo"):
        assert (await run(tower, text)).ok, text
    yield tower
    await tower.close()


async def commit(tower, message: str, files: dict) -> str:
    head = await tower.forge.head("release")
    return await tower.forge.commit_files("release", message, files, parent_sha=head.sha)


async def test_a_commit_whose_tests_fail_is_not_cut(named):
    broken = await commit(named, "wip", {"BROKEN": "1\n"})
    before = await snapshot(named.services.db)
    refused = await run(named, "/rc cut demo")
    assert not refused.ok
    assert refused.text.startswith(
        f"Not ready for cutting a candidate: 3. Tests pass on the commit (`tests_command` failed (exit 1): "
        f"test_sync FAILED on {broken[:10]}) (Tower ticks this itself)."
    )
    assert git(named.repo, "tag", "--list", "v1.3.0*") == ""
    after = await snapshot(named.services.db)
    assert {k: v for k, v in after.items() if k != "commit_check"} == {
        k: v for k, v in before.items() if k != "commit_check"
    }  # only the verdict is remembered
    shown = (await run(named, "/checklist show demo")).sections[0]
    assert "[ ] 3. Tests pass on the commit (before rc) — Tower checks this: `tests_command` failed" in shown


async def test_a_green_commit_ticks_the_item_and_is_cut(named):
    await commit(named, "wip", {"BROKEN": "1\n"})
    assert not (await run(named, "/rc cut demo")).ok
    fixed = await commit(named, "fix: sync", {"BROKEN": None})
    cut = await run(named, "/rc cut demo")
    assert cut.ok and cut.text.startswith("Cut v1.3.0-rc1")
    assert {f.label: f.value for f in cut.fields}["Tests"] == f"`tests_command` passed on {fixed[:10]}"
    shown = (await run(named, "/checklist show demo")).sections[0]
    assert (
        f"[x] 3. Tests pass on the commit (before rc) — Tower checks this: `tests_command` passed on {fixed[:10]}"
        in (shown)
    )


def test_a_local_project_that_requires_tests_names_its_command(tmp_path):
    with pytest.raises(ValueError, match="require_tests: a local repository has no CI to ask; set tests_command"):
        repo_settings(tmp_path, require_tests=True)
