"""/release name and /release notes on real git repositories, on both databases."""

import asyncio

import pytest

from bot.app import open_tower
from bot.integrations.forge_local import LocalGitForge
from commands.engine.ports import ForgeAuthError
from storage.queries import audit
from tests.git_repos import git
from tests.release_repos import CHANGELOG, FlakyForge, OneForge, released_then, repo_settings, timeout
from tests.support import run, snapshot


@pytest.fixture
async def repo_tower(request, tmp_path, db_target, clock):
    commits, project = getattr(request, "param", (None, {}))
    settings, shas = repo_settings(tmp_path, commits, **project)
    tower = await open_tower(settings, db_target.env(), clock=clock)
    tower.repo, tower.shas = tmp_path / "repo.git", shas
    await run(tower, "/release new demo")
    yield tower
    await tower.close()


def releasing_commits(repo):
    return [line for line in git(repo, "log", "--all", "--format=%s").splitlines() if line.startswith("Releasing v1.3")]


async def test_a_proposal_explains_itself_and_changes_nothing(repo_tower):
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, "/release name demo")
    assert reply.ok and reply.text == "Proposed version for demo#1: 1.3.0 (minor bump from 1.2.0, from the changelog)."
    assert "- feature: Pausing block production. (CHANGELOG.md:7)" in reply.sections[0]
    assert [b.command for b in reply.buttons] == [
        "/release name demo --version 1.3.0 --yes",
        "/release name demo --version 1.3.0 --dry-run",
    ]
    assert "commit “Releasing v1.3.0” on release (created from main)" in reply.sections[1]
    assert await snapshot(repo_tower.services.db) == before
    assert git(repo_tower.repo, "branch", "--list", "release") == ""


async def test_confirming_commits_the_renamed_changelog_and_names_the_release(repo_tower, clock):
    reply = await run(repo_tower, "/release name demo --yes")
    assert reply.ok, reply.text
    assert reply.text.startswith("Named demo 1.3.0: committed “Releasing v1.3.0” on release (")
    assert git(repo_tower.repo, "log", "-1", "--format=%s", "release").strip() == "Releasing v1.3.0"
    assert git(repo_tower.repo, "rev-parse", "release~1").strip() == repo_tower.shas[-1]
    changelog = git(repo_tower.repo, "show", "release:CHANGELOG.md")
    assert "## [Unreleased]\n\n## [1.3.0] - 2026-11-20\n\n### Added\n\n- Pausing block production." in changelog
    assert (
        "[Unreleased]: https://example.org/demo/compare/v1.3.0...HEAD\n[1.3.0]: https://example.org/demo/compare/v1.2.0...v1.3.0"
        in changelog
    )
    assert git(repo_tower.repo, "show", "main:CHANGELOG.md") == CHANGELOG  # main is untouched
    status = await run(repo_tower, "/release status demo")
    assert status.text == "demo 1.3.0: named"
    async with repo_tower.services.db.read() as s:
        assert [e.action for e in await audit.entries(s)] == ["release.new", "release.name"]
    notes = await run(repo_tower, "/release notes demo@1.3.0")
    assert notes.text == "Release notes for demo 1.3.0:"
    assert notes.sections == ["### Added\n\n- Pausing block production.\n\n### Fixed\n\n- No stall on clock jumps."]


async def test_a_dry_run_shows_the_diff_and_writes_nothing(repo_tower):
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, "/release name demo --dry-run")
    assert reply.text == "Dry run of naming demo#1 1.3.0: nothing was written."
    assert "+## [1.3.0] - 2026-11-20" in reply.sections[1] and "+[1.3.0]: https://example.org" in reply.sections[1]
    assert await snapshot(repo_tower.services.db) == before
    assert git(repo_tower.repo, "branch", "--list", "release") == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/release name demo --version 1.1.0 --yes", "Version 1.1.0 is not greater than the last release, 1.2.0."),
        ("/release name demo --version 1.2.0 --yes", "Version 1.2.0 is not greater than the last release, 1.2.0."),
        ("/release name demo --version banana --yes", "`banana` is not a semantic version."),
    ],
)
async def test_a_bad_version_is_refused_and_nothing_changes(repo_tower, text, expected):
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, text)
    assert not reply.ok and reply.text.startswith(expected)
    assert await snapshot(repo_tower.services.db) == before
    assert releasing_commits(repo_tower.repo) == []


async def test_a_version_given_by_hand_is_used(repo_tower):
    reply = await run(repo_tower, "/release name demo --version v2.0.0-beta.1 --yes")
    assert reply.ok and "Named demo 2.0.0-beta.1" in reply.text


async def test_a_version_tagged_already_is_refused(repo_tower):
    git(repo_tower.repo, "tag", "v1.4.0", repo_tower.shas[-1])
    reply = await run(repo_tower, "/release name demo --version 1.3.5 --yes")
    assert not reply.ok and "not greater than the last release, 1.4.0" in reply.text


async def test_naming_twice_is_an_illegal_step(repo_tower):
    await run(repo_tower, "/release name demo --yes")
    reply = await run(repo_tower, "/release name demo@1.3.0 --yes")
    assert not reply.ok and reply.text.startswith("Can't name demo 1.3.0: it is named")


BROKEN = CHANGELOG.replace("## [1.2.0] - 2026-10-01", "## [1.2] - sometime")


@pytest.mark.parametrize("repo_tower", [(released_then(BROKEN), {})], indirect=True)
async def test_a_malformed_changelog_is_reported_with_its_line(repo_tower):
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, "/release name demo")
    assert not reply.ok and reply.text.startswith("CHANGELOG.md:13: `## [1.2] - sometime` is not a release heading")
    assert await snapshot(repo_tower.services.db) == before


EMPTY = CHANGELOG.split("### Added", 1)[0] + "## [1.2.0]" + CHANGELOG.split("## [1.2.0]", 1)[1]


@pytest.mark.parametrize(
    "repo_tower",
    [(released_then(EMPTY, {"message": "feat!: new wire format", "files": {"x": "1"}}), {})],
    indirect=True,
)
async def test_with_no_entries_the_commits_since_the_last_tag_decide(repo_tower):
    reply = await run(repo_tower, "/release name demo")
    assert reply.text == "Proposed version for demo#1: 2.0.0 (major bump from 1.2.0, from the commits)."
    assert "- breaking: feat!: new wire format (commit)" in reply.sections[0]


@pytest.mark.parametrize(
    "repo_tower",
    [(released_then(EMPTY, {"message": "fix: a stall", "files": {"x": "1"}}), {})],
    indirect=True,
)
async def test_an_empty_unreleased_section_is_not_named_without_saying_so(repo_tower):
    proposal = await run(repo_tower, "/release name demo")
    assert "Warning: the Unreleased section of CHANGELOG.md is empty" in proposal.sections[-1]
    assert proposal.buttons[0].command == "/release name demo --version 1.3.0 --no-notes --yes"
    before = await snapshot(repo_tower.services.db)
    refused = await run(repo_tower, "/release name demo --yes")
    assert not refused.ok and refused.text.startswith(
        "Not naming demo 1.3.0: the Unreleased section of CHANGELOG.md is empty, so it would have no release "
        "notes and its announcement would say nothing about what changed."
    )
    assert "--yes --no-notes" in refused.text
    assert await snapshot(repo_tower.services.db) == before and releasing_commits(repo_tower.repo) == []
    named = await run(repo_tower, "/release name demo --yes --no-notes")
    assert named.ok and named.text.startswith("Named demo 1.3.0")


FRAGMENTS = [
    {
        "message": "news",
        "files": {
            "changelog.d/21.feature.md": "Release pages.\n",
            "changelog.d/22.bugfix.md": "Fewer stalls.\n",
            "changelog.d/.gitkeep": "",
        },
    }
]


@pytest.mark.parametrize(
    "repo_tower", [(released_then(EMPTY, *FRAGMENTS), {"changelog_fragments": "changelog.d"})], indirect=True
)
async def test_news_fragments_become_the_section_and_are_removed(repo_tower):
    proposal = await run(repo_tower, "/release name demo")
    assert "from the fragments" in proposal.text and "changelog.d/21.feature.md" in proposal.sections[0]
    assert (await run(repo_tower, "/release name demo --yes")).ok
    changelog = git(repo_tower.repo, "show", "release:CHANGELOG.md")
    assert (
        "## [1.3.0] - 2026-11-20\n\n### Added\n\n- Release pages.\n\n### Fixed\n\n- Fewer stalls.\n\n## [1.2.0]"
        in changelog
    )
    assert git(repo_tower.repo, "ls-tree", "--name-only", "release:changelog.d").split() == [".gitkeep"]


async def test_a_forge_refusal_leaves_everything_as_it_was(repo_tower):
    flaky = FlakyForge(LocalGitForge(repo_tower.repo))
    flaky.fail_before["commit_files"] = ForgeAuthError("The forge refused the push (403).", "Check GITHUB_TOKEN.")
    repo_tower.services.forges = OneForge(flaky)
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, "/release name demo --yes")
    assert not reply.ok and "The forge refused the push (403). Check GITHUB_TOKEN." in reply.text
    assert "Tower's state is unchanged; run the command again." in reply.text
    after = await snapshot(repo_tower.services.db)
    assert after["release states"] == before["release states"] and after["audit_entry"] == before["audit_entry"]
    assert (await run(repo_tower, "/release name demo --yes")).ok  # simply run it again
    assert releasing_commits(repo_tower.repo) == ["Releasing v1.3.0"]


async def test_a_timeout_after_the_commit_landed_does_not_commit_twice(repo_tower):
    flaky = FlakyForge(LocalGitForge(repo_tower.repo))
    flaky.fail_after["commit_files"] = timeout()
    repo_tower.services.forges = OneForge(flaky)
    failed = await run(repo_tower, "/release name demo --yes")
    assert not failed.ok and (await run(repo_tower, "/release status demo")).text == "demo#1: planning"
    assert releasing_commits(repo_tower.repo) == ["Releasing v1.3.0"]  # it did land
    again = await run(repo_tower, "/release name demo --yes")
    assert again.ok and again.text.startswith("Named demo 1.3.0")
    assert releasing_commits(repo_tower.repo) == ["Releasing v1.3.0"]  # and only once


async def test_two_confirmations_at_once_make_one_commit(repo_tower):
    replies = await asyncio.gather(
        run(repo_tower, "/release name demo --yes"), run(repo_tower, "/release name demo --yes")
    )
    assert sorted(r.ok for r in replies) == [False, True]
    assert releasing_commits(repo_tower.repo) == ["Releasing v1.3.0"]


async def test_only_the_crew_or_release_managers_name(repo_tower):
    reply = await run(repo_tower, "/release name demo --yes", as_="bob")
    assert not reply.ok and "Only the crew or release managers (alice)" in reply.text


async def test_notes_of_an_unnamed_release_show_what_unreleased_holds(repo_tower):
    reply = await run(repo_tower, "/release notes demo")
    assert reply.text == "Unreleased changes in demo:" and "- Pausing block production." in reply.sections[0]


class ReleaseBranchDeletedBehindTower:
    """The real forge, where someone deletes the release branch right after Tower created it."""

    def __init__(self, repo):
        self.inner, self.repo = LocalGitForge(repo), repo

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def create_branch(self, name, sha):
        await self.inner.create_branch(name, sha)
        git(self.repo, "branch", "-D", name)


async def test_a_release_branch_deleted_while_naming_is_a_clear_refusal_and_a_retry_works(repo_tower):
    assert "release" not in git(repo_tower.repo, "branch", "--list").split()  # naming creates it
    repo_tower.services.forges = OneForge(ReleaseBranchDeletedBehindTower(repo_tower.repo))
    before = await snapshot(repo_tower.services.db)
    reply = await run(repo_tower, "/release name demo --yes")
    assert not reply.ok
    assert reply.text.startswith("The release branch disappeared from the repository while Tower was naming")
    assert "Tower's state is unchanged; run the command again." in reply.text
    after = await snapshot(repo_tower.services.db)
    assert after["release states"] == before["release states"] and after["audit_entry"] == before["audit_entry"]
    repo_tower.services.forges = OneForge(LocalGitForge(repo_tower.repo))
    assert (await run(repo_tower, "/release name demo --yes")).ok  # at once: the claim was given back
    assert releasing_commits(repo_tower.repo) == ["Releasing v1.3.0"]
