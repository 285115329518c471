"""/release ship: the final tag and release page, the deploy gate and its override, resumption."""

import json

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from storage.queries import outbox
from tests.git_repos import git
from tests.release_repos import FlakyForge, OneForge, repo_settings, timeout
from tests.support import run, snapshot


@pytest.fixture
async def cut(request, tmp_path, db_target, clock):
    """1.3.0 named, rc1 and rc2 cut (rc2 on a later commit of the release branch)."""
    project = {"checklist": [], **getattr(request, "param", {"ci": None})}
    settings, _ = repo_settings(tmp_path, **project)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo = tmp_path / "repo.git"
    for text in ("/release new demo", "/release name demo --yes", "/scope freeze demo", "/rc cut demo"):
        assert (await run(tower, text)).ok
    forge = LocalGitForge(tower.repo)
    head = await forge.head("release")
    await forge.commit_files("release", "fix: last-minute", {"fix.txt": "1\n"}, parent_sha=head.sha)
    assert (await run(tower, "/rc cut demo")).ok
    yield tower
    await tower.close()


async def test_a_project_without_deploys_ships_the_last_candidate(cut):
    reply = await run(cut, "/release ship demo")
    assert reply.ok and reply.text == "Shipped demo 1.3.0."
    rc2 = git(cut.repo, "rev-parse", "v1.3.0-rc2^{commit}")
    assert git(cut.repo, "rev-parse", "v1.3.0^{commit}") == rc2
    annotation = git(cut.repo, "tag", "-l", "--format=%(contents)", "v1.3.0")
    assert annotation.startswith("v1.3.0\n\n### Added\n\n- Pausing block production.")
    assert (await run(cut, "/release status demo@1.3.0")).text == "demo 1.3.0: released"
    again = await run(cut, "/release ship demo@1.3.0")
    assert not again.ok and "It has already shipped." in again.text


@pytest.mark.parametrize("cut", [{}], indirect=True)  # the demo project deploys through CI
async def test_a_deploying_project_needs_a_simmer_or_an_override(cut):
    before = await snapshot(cut.services.db)
    refused = await run(cut, "/release ship demo")
    assert not refused.ok and refused.text.startswith("Not shipping: demo 1.3.0 has not been deployed")
    assert "--override REASON" in refused.text and "5. Simmer passed" in refused.text
    assert await snapshot(cut.services.db) == before
    assert git(cut.repo, "tag", "--list", "v1.3.0") == ""
    shipped = await run(cut, '/release ship demo --override "hotfix, deploy verified by hand"')
    assert shipped.ok and {f.label: f.value for f in shipped.fields}["Override"] == "hotfix, deploy verified by hand"
    history = (await run(cut, "/release status demo@1.3.0")).sections[0]
    assert "ship → released by alice: v1.3.0 from v1.3.0-rc2; override (demo 1.3.0 has not been deployed" in history
    assert (
        "Not ready for shipping: 5. Simmer passed (Tower ticks this itself)): hotfix, deploy verified by hand"
        in history
    )


async def test_a_dry_run_writes_nothing(cut):
    before = await snapshot(cut.services.db)
    reply = await run(cut, "/release ship demo --dry-run")
    assert reply.text.startswith("Dry run: would tag v1.3.0 at ") and "(from v1.3.0-rc2)" in reply.text
    assert await snapshot(cut.services.db) == before and git(cut.repo, "tag", "--list", "v1.3.0") == ""


async def test_a_ship_interrupted_after_the_tag_is_finished_by_running_it_again(cut):
    flaky = FlakyForge(LocalGitForge(cut.repo))
    flaky.fail_before["create_release"] = timeout()
    cut.services.forges = OneForge(flaky)
    failed = await run(cut, "/release ship demo")
    assert not failed.ok and "is not shipped yet; running the command again finishes the job" in failed.text
    assert (await run(cut, "/release status demo")).text == "demo 1.3.0: candidate"
    assert (await run(cut, "/release ship demo")).ok
    assert git(cut.repo, "tag", "--list", "v1.3.0").split() == ["v1.3.0"]


async def test_only_the_pilot_or_release_managers_ship(cut):
    reply = await run(cut, "/release ship demo", as_="jane")
    assert not reply.ok and "Only the pilot or release managers (alice)" in reply.text


@pytest.mark.parametrize("cut", [{"ci": None, "all_clear_days": 1}], indirect=True)
async def test_the_all_clear_counts_its_days_in_words(cut):
    assert (await run(cut, "/release ship demo")).ok
    async with cut.services.db.read() as s:
        texts = [json.loads(r.payload)["text"] for r in await outbox.all_for(s, "console:team")]
    assert "All clear for demo 1.3.0: 1 day since it shipped. The pilot is off duty for it." in texts


async def test_fixes_made_on_the_release_branch_are_named_for_main(cut):
    assert (await run(cut, "/release ship demo")).ok
    async with cut.services.db.read() as s:
        texts = [json.loads(r.payload)["text"] for r in await outbox.all_for(s, "console:team")]
    assert (
        "After shipping demo 1.3.0: v1.3.0 holds 1 commit that main does not (fix: last-minute): merge them "
        "into main, since the next release branch starts from there." in texts
    )
    assert "## [1.3.0] - " in git(cut.repo, "show", "main:CHANGELOG.md")  # the changelog went back itself
