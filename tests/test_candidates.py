"""/rc cut and /rc list on real git repositories, on both databases."""

import asyncio

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from commands.engine.ports import ForgeAuthError
from storage.queries import audit
from tests.git_repos import git
from tests.release_repos import FlakyForge, OneForge, repo_settings, timeout
from tests.support import run, snapshot


@pytest.fixture
async def named(request, tmp_path, db_target, clock):
    """A release named 1.3.0 (its release branch made by naming)."""
    project = getattr(request, "param", {})
    settings, _shas = repo_settings(tmp_path, **project)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo = tmp_path / "repo.git"
    await run(tower, "/release new demo")
    assert (await run(tower, "/release name demo --yes")).ok
    assert (await run(tower, "/scope freeze demo")).ok
    yield tower
    await tower.close()


def tags(repo, pattern="v1.3*"):
    return git(repo, "tag", "--list", pattern).split()


async def test_cutting_before_naming_says_to_name_first(tmp_path, db_target, clock):
    settings, _ = repo_settings(tmp_path)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        await run(tower, "/release new demo")
        before = await snapshot(tower.services.db)
        reply = await run(tower, "/rc cut demo")
        assert not reply.ok
        assert reply.text == (
            "Can't cut a candidate for demo#1: it is in planning and has no version yet. "
            "Next: `/release name` (name the version from the changelog)."
        )
        assert await snapshot(tower.services.db) == before
    finally:
        await tower.close()


async def test_a_cut_tags_the_release_branch_with_the_notes(named):
    reply = await run(named, "/rc cut demo")
    assert reply.ok and reply.text.startswith("Cut v1.3.0-rc1 at ")
    assert tags(named.repo) == ["v1.3.0-rc1"]
    assert git(named.repo, "rev-parse", "v1.3.0-rc1^{commit}") == git(named.repo, "rev-parse", "release")
    annotation = git(named.repo, "tag", "-l", "--format=%(contents)", "v1.3.0-rc1")
    assert annotation.startswith(
        "v1.3.0-rc1\n\nCandidate rc1 of Demo 1.3.0.\n\n### Added\n\n- Pausing block production."
    )
    assert git(named.repo, "cat-file", "-t", "v1.3.0-rc1").strip() == "tag"  # annotated
    assert (await run(named, "/release status demo")).text == "demo 1.3.0: candidate"
    async with named.services.db.read() as s:
        assert (await audit.entries(s))[-1].action == "rc.cut"


async def test_candidates_are_listed_in_the_order_they_were_cut_past_ten(named):
    for step in ["--boot", ""] + ["--patch"] + [""] * 10:
        reply = await run(named, f"/rc cut demo {step} --again")  # all from one commit, on purpose
        assert reply.ok, reply.text
    listing = (await run(named, "/rc list demo")).sections[0].splitlines()
    assert [line.split("`")[1] for line in listing] == [
        "v1.3.0-boot",
        "v1.3.0-rc1",
        "v1.3.0-rc1-p1",
        *[f"v1.3.0-rc{n}" for n in range(2, 12)],
    ]
    assert listing[0].startswith("1. ") and listing[-1].startswith("13. ")


@pytest.mark.parametrize("named", [{"tag_scheme": "build"}], indirect=True)
async def test_the_build_scheme_counts_builds(named):
    for _ in range(11):
        assert (await run(named, "/rc cut demo --again")).ok
    assert sorted(tags(named.repo), key=lambda t: int(t.split("+")[1]))[-2:] == ["v1.3.0+10", "v1.3.0+11"]
    refused = await run(named, "/rc cut demo --patch")
    assert not refused.ok and "tags builds" in refused.text


async def test_a_ref_chooses_what_to_tag(named):
    main = git(named.repo, "rev-parse", "main").strip()
    assert (await run(named, "/rc cut demo --ref main")).ok
    assert git(named.repo, "rev-parse", "v1.3.0-rc1^{commit}").strip() == main
    missing = await run(named, "/rc cut demo --ref nowhere")
    assert not missing.ok and "`nowhere` is not a branch, tag or commit" in missing.text


async def test_a_dry_run_writes_nothing(named):
    before = await snapshot(named.services.db)
    reply = await run(named, "/rc cut demo --dry-run")
    assert reply.text.startswith("Dry run: would tag v1.3.0-rc1 at ") and "nothing was written" in reply.text
    assert "Candidate rc1 of Demo 1.3.0." in reply.sections[0]
    assert await snapshot(named.services.db) == before and tags(named.repo) == []


async def test_two_cuts_at_once_make_one_candidate_and_one_clear_refusal(named):
    replies = await asyncio.gather(run(named, "/rc cut demo"), run(named, "/rc cut demo"))
    assert sorted(r.ok for r in replies) == [False, True]
    refusal = next(r.text for r in replies if not r.ok)
    assert "at the same moment" in refusal or "is being cut right now" in refusal
    assert tags(named.repo) == ["v1.3.0-rc1"]


class CutMeanwhileForge:
    """The real forge; while the first cut asks which tags exist, another process finishes a cut."""

    def __init__(self, inner, tower):
        self.inner, self.tower, self.raced = inner, tower, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def tags(self, prefix):
        if not self.raced:
            self.raced = True
            assert (await run(self.tower, "/rc cut demo")).text.startswith("Cut v1.3.0-rc1")
        return await self.inner.tags(prefix)


async def test_a_cut_finished_by_another_process_meanwhile_is_not_cut_again(named):
    named.services.forges = OneForge(CutMeanwhileForge(LocalGitForge(named.repo), named))
    late = await run(named, "/rc cut demo")
    assert not late.ok and late.text.startswith("Someone cut v1.3.0-rc1 for demo 1.3.0 at the same moment")
    assert tags(named.repo) == ["v1.3.0-rc1"]  # rc1 seemed made outside Tower to the late cut; no rc2


async def test_a_cut_interrupted_by_a_timeout_is_finished_by_the_next_cut(named):
    flaky = FlakyForge(LocalGitForge(named.repo))
    flaky.fail_after["create_tag"] = timeout()
    named.services.forges = OneForge(flaky)
    failed = await run(named, "/rc cut demo")
    assert not failed.ok and "will be finished by the next `/rc cut`" in failed.text
    assert tags(named.repo) == ["v1.3.0-rc1"]  # it did land
    resumed = await run(named, "/rc cut demo")
    assert resumed.ok and resumed.text.startswith("Finished the interrupted cut of v1.3.0-rc1")
    assert (await run(named, "/rc cut demo --again")).text.startswith("Cut v1.3.0-rc2")


async def test_the_same_cut_asked_twice_in_a_row_is_refused_unless_meant(named, clock):
    assert (await run(named, "/rc cut demo")).text.startswith("Cut v1.3.0-rc1")
    twice = await run(named, "/rc cut demo")
    assert not twice.ok and twice.text.startswith("v1.3.0-rc1 was cut from this same commit 0s ago")
    assert "--again" in twice.text and tags(named.repo) == ["v1.3.0-rc1"]
    assert (await run(named, "/rc cut demo --again")).text.startswith("Cut v1.3.0-rc2")
    clock.advance(minutes=3)
    assert (await run(named, "/rc cut demo")).text.startswith("Cut v1.3.0-rc3")  # minutes later: meant


async def test_a_refused_tag_frees_its_number(named):
    flaky = FlakyForge(LocalGitForge(named.repo))
    flaky.fail_before["create_tag"] = ForgeAuthError("The forge refused the tag (403).", "Check the token.")
    named.services.forges = OneForge(flaky)
    before = await snapshot(named.services.db)
    failed = await run(named, "/rc cut demo")
    assert not failed.ok and failed.text.startswith(
        "The forge refused the tag (403). Check the token. Nothing was changed."
    )
    assert await snapshot(named.services.db) == before
    assert (await run(named, "/rc cut demo")).text.startswith("Cut v1.3.0-rc1")


async def test_a_tag_made_by_hand_takes_its_number_and_the_cut_goes_on_past_it(named):
    git(named.repo, "tag", "v1.3.0-rc1", "main")
    reply = await run(named, "/rc cut demo")
    assert reply.ok and reply.text.startswith("Cut v1.3.0-rc2 at ")
    assert reply.sections == [
        "Skipped v1.3.0-rc1: it is already on the forge and was not cut by Tower "
        "(tags of 1.3.0 made outside Tower: v1.3.0-rc1)."
    ]
    assert [line.split("`")[1] for line in (await run(named, "/rc list demo")).sections[0].splitlines()] == [
        "v1.3.0-rc2"
    ]


async def test_a_stray_tag_ahead_is_skipped_even_with_again(named):
    assert (await run(named, "/rc cut demo")).ok
    assert (await run(named, "/rc cut demo --again")).ok
    git(named.repo, "tag", "v1.3.0-rc3", "main")  # someone's stray tag
    reply = await run(named, "/rc cut demo --again")
    assert reply.ok and reply.text.startswith("Cut v1.3.0-rc4 at ")
    assert git(named.repo, "rev-parse", "v1.3.0-rc3^{commit}") == git(named.repo, "rev-parse", "main")
    assert (await run(named, "/rc cut demo --patch")).text.startswith("Cut v1.3.0-rc4-p1 at ")


async def test_the_annotation_names_the_candidate(named):
    assert (await run(named, "/rc cut demo")).ok
    assert (await run(named, "/rc cut demo --patch --again")).ok
    for _ in range(9):
        assert (await run(named, "/rc cut demo --again")).ok
    for tag, line in (
        ("v1.3.0-rc1", "Candidate rc1 of Demo 1.3.0."),
        ("v1.3.0-rc1-p1", "Candidate rc1-p1 of Demo 1.3.0."),
        ("v1.3.0-rc10", "Candidate rc10 of Demo 1.3.0."),
    ):
        assert git(named.repo, "tag", "-l", "--format=%(contents)", tag).split("\n")[2] == line


async def test_a_cut_left_pending_by_a_crash_is_finished_later(named, clock):
    from storage.queries import candidates as stored

    async with named.services.db.write() as s:  # what a crash between recording and tagging leaves
        from commands.engine import lookup
        from commands.engine.arguments import release_ref

        _, rel = await lookup.release(s, release_ref("demo", named.settings))
        sha = git(named.repo, "rev-parse", "release").strip()
        await stored.add(
            s,
            release_id=rel.id,
            kind="rc",
            tag="v1.3.0-rc1",
            rc=1,
            patch=None,
            build=None,
            notes="v1.3.0-rc1\n",
            commit_sha=sha,
            created_by_id=None,
            now=clock.now(),
        )
    busy = await run(named, "/rc cut demo")
    assert not busy.ok and busy.text.startswith("v1.3.0-rc1 is being cut right now.")
    clock.advance(minutes=5)
    finished = await run(named, "/rc cut demo")
    assert finished.ok and finished.text.startswith("Finished the interrupted cut of v1.3.0-rc1")
    assert tags(named.repo) == ["v1.3.0-rc1"]


@pytest.mark.parametrize("named", [{"ci": None}, {}], indirect=True, ids=["library", "deploys"])
async def test_a_deploy_button_follows_a_cut_only_where_there_is_a_pipeline(named):
    reply = await run(named, "/rc cut demo")
    assert reply.ok
    library = named.settings.project("demo").ci is None
    deploys = [b.label for b in reply.buttons if b.command.startswith("/deploy start")]
    assert deploys == ([] if library else ["Deploy it"])
    footer = (await run(named, "/release status demo")).footer
    assert ("`/deploy start demo@1.3.0` to deploy the candidate" in footer) is not library
    assert "`/release ship demo@1.3.0` to ship it" in footer
