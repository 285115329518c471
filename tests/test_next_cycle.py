"""After a ship, main holds the released changelog and the next cycle names itself from main."""

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from commands.rules.changelog import parse
from tests.git_repos import git
from tests.release_repos import CHANGELOG, repo_settings
from tests.support import run

MEANWHILE = CHANGELOG.replace(
    "- No stall on clock jumps.\n", "- No stall on clock jumps.\n- Peers reconnect after a restart.\n"
)


@pytest.fixture
async def shipped(tmp_path, db_target, clock):
    """2.0.0 named and cut; main moved meanwhile (a new fix under Unreleased); then shipped."""
    settings, _ = repo_settings(tmp_path, ci=None, checklist=[])
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo, tower.forge = tmp_path / "repo.git", LocalGitForge(tmp_path / "repo.git")
    for text in ("/release new demo", "/release name demo --version 2.0.0 --yes", "/scope freeze demo"):
        assert (await run(tower, text)).ok, text
    branch = await tower.forge.head("release")  # the notes are polished on the release branch
    polished = (await tower.forge.read_file("CHANGELOG.md", branch.sha)).replace(
        "- Pausing block production.", "- Block production can be paused."
    )
    await tower.forge.commit_files("release", "Polish the notes", {"CHANGELOG.md": polished}, parent_sha=branch.sha)
    assert (await run(tower, "/rc cut demo")).ok
    main = await tower.forge.head("main")
    await tower.forge.commit_files("main", "fix: reconnect", {"CHANGELOG.md": MEANWHILE}, parent_sha=main.sha)
    assert (await run(tower, "/release ship demo")).ok
    yield tower
    await tower.close()


async def test_the_next_cycle_reads_main_after_a_ship(shipped):
    tower, repo = shipped, shipped.repo
    on_main = parse(git(repo, "show", "main:CHANGELOG.md"))
    assert [e.text for e in on_main.unreleased.entries] == ["Peers reconnect after a restart."]
    assert [s.version for s in on_main.releases] == ["2.0.0", "1.2.0"]
    assert on_main.release("2.0.0").entries[0].text == "Block production can be paused."
    assert git(repo, "log", "-1", "--format=%s", "main").strip() == "Merge the v2.0.0 changelog into main"

    assert (await run(tower, "/release new demo")).ok
    proposal = await run(tower, "/release name demo")
    assert proposal.ok and proposal.text.startswith("Proposed version for demo#2: 2.0.1 (patch bump from 2.0.0")
    assert "release (restarted from main: it held only what already shipped)" in proposal.sections[-1]
    named = await run(tower, "/release name demo --yes")
    assert named.ok and named.text.startswith("Named demo 2.0.1")
    assert git(repo, "rev-parse", "release~1").strip() == git(repo, "rev-parse", "main").strip()
    on_release = parse(git(repo, "show", "release:CHANGELOG.md"))
    assert [e.text for e in on_release.release("2.0.1").entries] == ["Peers reconnect after a restart."]
    assert on_release.unreleased.entries == []


async def test_a_release_branch_with_work_since_the_ship_is_kept(shipped):
    tower, repo = shipped, shipped.repo
    branch = await tower.forge.head("release")
    shipped_log = git(repo, "show", "release:CHANGELOG.md")
    text = shipped_log.replace("## [Unreleased]", "## [Unreleased]\n\n### Fixed\n\n- Hotfix.", 1)
    await tower.forge.commit_files("release", "fix: hotfix", {"CHANGELOG.md": text}, parent_sha=branch.sha)
    assert (await run(tower, "/release new demo")).ok
    proposal = await run(tower, "/release name demo")
    assert proposal.text.startswith("Proposed version for demo#2: 2.0.1")
    assert "on release: update CHANGELOG.md" in proposal.sections[-1]
    assert "Hotfix" in proposal.sections[0] and "Peers reconnect" not in proposal.sections[0]
