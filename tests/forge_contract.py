"""The Forge contract: what every forge (local git, GitHub, GitLab) must do, as tests.

A test module for one forge imports these tests (`from tests.forge_contract import *`) and
provides a fixture `seeded` returning a `Seeded`: the forge under test, built on a repository that
holds exactly SEED, and the commit shas it got.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from commands.engine.ports import Commit, Forge, ForgeConflict, ForgeNotFound

CHANGELOG_V120 = """\
# Changelog

## [Unreleased]

## [1.2.0] - 2026-10-01

### Added

- Health endpoint.

[Unreleased]: https://example.org/compare/v1.2.0...HEAD
[1.2.0]: https://example.org/releases/v1.2.0
"""

CHANGELOG_NEXT = CHANGELOG_V120.replace("## [Unreleased]\n", "## [Unreleased]\n\n### Added\n\n- Pausing.\n", 1)

# Three commits on `main`; v1.2.0 is an annotated tag on the first.
SEED = [
    {
        "message": "Releasing v1.2.0",
        "files": {
            "README.md": "# Demo\n",
            "CHANGELOG.md": CHANGELOG_V120,
            "changelog.d/12.feature.md": "Pause block production.\n",
            "changelog.d/13.bugfix.md": "No stall on clock jumps.\n",
        },
        "tag": ("v1.2.0", "v1.2.0"),
    },
    {"message": "feat: pause block production", "files": {"CHANGELOG.md": CHANGELOG_NEXT}},
    {"message": "fix!: drop the legacy API\n\nBREAKING CHANGE: the v1 API is gone", "files": {"api.txt": "v2\n"}},
]


@dataclass
class Seeded:
    forge: Forge
    shas: list[str]  # the SEED commits' shas, in order
    has_issues: bool = True  # a plain git repository has none


async def test_read_file_at_a_branch_a_tag_and_a_missing_path(seeded: Seeded):
    forge = seeded.forge
    assert await forge.read_file("CHANGELOG.md", "main") == CHANGELOG_NEXT
    assert await forge.read_file("CHANGELOG.md", "v1.2.0") == CHANGELOG_V120
    assert await forge.read_file("CHANGELOG.md", seeded.shas[0]) == CHANGELOG_V120
    assert await forge.read_file("NOPE.md", "main") is None


async def test_reading_from_a_ref_that_does_not_exist_is_not_found(seeded: Seeded):
    with pytest.raises(ForgeNotFound):
        await seeded.forge.read_file("CHANGELOG.md", "no-such-branch")


async def test_list_dir(seeded: Seeded):
    assert await seeded.forge.list_dir("changelog.d", "main") == ["12.feature.md", "13.bugfix.md"]
    assert await seeded.forge.list_dir("no-such-dir", "main") is None


async def test_head_and_resolve(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    head = await forge.head("main")
    assert head.sha == shas[2] and head.message.startswith("fix!: drop the legacy API")
    assert await forge.head("no-such-branch") is None
    assert await forge.resolve("main") == shas[2]
    assert await forge.resolve("v1.2.0") == shas[0]
    assert await forge.resolve(shas[1]) == shas[1]
    assert await forge.resolve("no-such-ref") is None


async def test_create_branch_is_idempotent_and_refuses_to_move(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    await forge.create_branch("release", shas[2])
    assert (await forge.head("release")).sha == shas[2]
    with pytest.raises(ForgeConflict):
        await forge.create_branch("release", shas[0])
    assert (await forge.head("release")).sha == shas[2]


async def test_commit_files_writes_and_deletes_in_one_commit(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    new = CHANGELOG_NEXT.replace("## [Unreleased]\n", "## [Unreleased]\n\n## [1.3.0] - 2026-11-21\n", 1)
    sha = await forge.commit_files(
        "release", "Releasing v1.3.0", {"CHANGELOG.md": new, "changelog.d/12.feature.md": None}, parent_sha=shas[2]
    )
    assert await forge.head("release") == Commit(sha=sha, message="Releasing v1.3.0")
    assert await forge.read_file("CHANGELOG.md", "release") == new
    assert await forge.list_dir("changelog.d", "release") == ["13.bugfix.md"]
    assert await forge.read_file("README.md", "release") == "# Demo\n"  # untouched files carry over
    assert (await forge.head("main")).sha == shas[2]  # other branches untouched


async def test_commit_files_on_a_moved_branch_is_a_conflict_and_writes_nothing(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_branch("release", shas[2])
    first = await forge.commit_files("release", "one", {"a.txt": "1\n"}, parent_sha=shas[2])
    with pytest.raises(ForgeConflict):
        await forge.commit_files("release", "two", {"b.txt": "2\n"}, parent_sha=shas[2])
    assert (await forge.head("release")).sha == first
    assert await forge.read_file("b.txt", "release") is None


async def test_tags_listing_and_creation(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    assert next(t for t in await forge.tags("v") if t.name == "v1.2.0").commit_sha == shas[0]
    await forge.create_tag("v1.3.0-rc1", shas[2], "Candidate rc1 of 1.3.0")
    await forge.create_tag("v1.3.0-rc1", shas[2], "Candidate rc1 of 1.3.0")  # again: fine
    found = {t.name: t for t in await forge.tags("v1.3")}
    assert set(found) == {"v1.3.0-rc1"} and found["v1.3.0-rc1"].commit_sha == shas[2]
    assert await forge.resolve("v1.3.0-rc1") == shas[2]
    with pytest.raises(ForgeConflict):
        await forge.create_tag("v1.3.0-rc1", shas[1], "elsewhere")
    assert await forge.tags("nothing-like-this") == []


async def test_build_tags_with_a_plus_sign(seeded: Seeded):
    """Build-scheme tags (v1.2.3+4) carry a '+', which URLs and query strings treat specially."""
    forge, shas = seeded.forge, seeded.shas
    await forge.create_tag("v1.3.0+1", shas[1], "build 1")
    await forge.create_tag("v1.3.0+2", shas[2], "build 2")
    found = {t.name: t.commit_sha for t in await forge.tags("v1.3.0+")}
    assert found == {"v1.3.0+1": shas[1], "v1.3.0+2": shas[2]}
    assert await forge.resolve("v1.3.0+2") == shas[2]
    assert await forge.read_file("api.txt", "v1.3.0+2") == "v2\n"


async def test_commit_messages_since_a_tag(seeded: Seeded):
    forge = seeded.forge
    since = await forge.commit_messages("v1.2.0", "main")
    assert [m.splitlines()[0] for m in since] == ["fix!: drop the legacy API", "feat: pause block production"]
    assert "BREAKING CHANGE: the v1 API is gone" in since[0]
    everything = await forge.commit_messages(None, "main")
    assert [m.splitlines()[0] for m in everything][-1] == "Releasing v1.2.0" and len(everything) == 3


async def test_create_release_is_idempotent(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    await forge.create_tag("v1.3.0", shas[2], "1.3.0")
    first = await forge.create_release("v1.3.0", "v1.3.0", "## Added\n\n- Pausing.\n")
    assert await forge.create_release("v1.3.0", "v1.3.0", "## Added\n\n- Pausing.\n") == first


async def test_move_branch_creates_or_moves_a_pointer(seeded: Seeded):
    forge, shas = seeded.forge, seeded.shas
    await forge.move_branch("devnet", shas[1])
    assert (await forge.head("devnet")).sha == shas[1]
    await forge.move_branch("devnet", shas[0])  # backwards too: it is a pointer, not history
    assert (await forge.head("devnet")).sha == shas[0]
    assert (await forge.head("main")).sha == shas[2]


async def test_issues_are_opened_read_and_edited(seeded: Seeded):
    forge = seeded.forge
    opened = await forge.create_issue("Release demo 1.3.0", "- [ ] Release notes reviewed\n- [x] Scope frozen\n")
    if not seeded.has_issues:
        assert opened is None and await forge.get_issue(1) is None
        return
    assert opened.number >= 1 and opened.url.startswith("http")
    assert await forge.get_issue(opened.number) == opened
    edited = await forge.update_issue(opened.number, "Release demo 1.3.0 (named)", "- [x] Release notes reviewed\n")
    assert (edited.title, edited.body) == ("Release demo 1.3.0 (named)", "- [x] Release notes reviewed\n")
    assert await forge.get_issue(opened.number) == edited
    assert await forge.get_issue(opened.number + 1000) is None


# `from tests.forge_contract import *` brings every contract test into a forge's test module.
__all__ = [name for name in dir() if name.startswith("test_")] + ["Seeded", "SEED", "CHANGELOG_V120", "CHANGELOG_NEXT"]
