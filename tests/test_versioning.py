"""Proposing versions: the bump rules, news fragments, Conventional Commits, the last release."""

import pytest
import semver

from commands.rules import versioning as v
from commands.rules.changelog import Entry

V = semver.Version.parse


def change(level, text="x"):
    return v.Change(level, text, "here")


@pytest.mark.parametrize(
    ("last", "levels", "expected", "bump"),
    [
        ("1.2.0", [v.FIX], "1.2.1", "patch"),
        ("1.2.0", [v.FIX, v.FEATURE], "1.3.0", "minor"),
        ("1.2.3", [v.FEATURE, v.BREAKING, v.FIX], "2.0.0", "major"),
        ("0.5.0", [v.BREAKING], "0.6.0", "minor"),  # before 1.0.0 a breaking change bumps the minor
        (None, [v.FEATURE], "0.1.0", "minor"),
        (None, [v.FIX], "0.0.1", "patch"),
    ],
)
def test_bumps(last, levels, expected, bump):
    proposal = v.propose(V(last) if last else None, [change(level) for level in levels], "changelog")
    assert (str(proposal.version), proposal.bump) == (expected, bump)


def test_before_1_0_a_breaking_change_may_bump_the_major_by_config():
    assert str(v.propose(V("0.5.0"), [change(v.BREAKING)], "changelog", "major").version) == "1.0.0"


def test_the_reasons_name_the_entries_that_drove_the_bump():
    proposal = v.propose(V("1.0.0"), [change(v.FIX, "a fix"), change(v.FEATURE, "a feature")], "changelog")
    assert proposal.drivers == [change(v.FEATURE, "a feature")]
    assert proposal.reasons() == ["- feature: a feature (here)"]


def test_nothing_releasable_is_refused():
    with pytest.raises(v.NothingToRelease, match=r"since 1.0.0"):
        v.propose(V("1.0.0"), [change(v.OTHER, "chore: bump deps")], "commits")


def test_changelog_sections_map_to_levels():
    entries = [
        Entry("added", "new", 3),
        Entry("fixed", "bug", 5),
        Entry("security", "cve", 7),
        Entry("removed", "gone", 9),
        Entry("changed", "BREAKING: renamed", 11),
    ]
    assert [c.level for c in v.from_entries(entries, "CHANGELOG.md")] == [
        v.FEATURE,
        v.FIX,
        v.FIX,
        v.FEATURE,
        v.BREAKING,
    ]
    assert v.from_entries(entries, "CHANGELOG.md")[0].origin == "CHANGELOG.md:3"


def test_conventional_commits():
    messages = [
        "feat(api): pause",
        "fix: stall",
        "chore: deps",
        "refactor!: new store",
        "docs: readme\n\nBREAKING CHANGE: the config moved",
        "not conventional at all",
    ]
    assert [c.level for c in v.from_commits(messages)] == [v.FEATURE, v.FIX, v.OTHER, v.BREAKING, v.BREAKING, v.OTHER]


def test_news_fragments_are_read_and_rendered():
    fragments = {
        "12.feature.md": "Pause block\nproduction.\n",
        "13.bugfix.md": "No stall.\n",
        "14.breaking.md": "Drop v1.\n",
        "README.md": "not a fragment",
        "15.misc.rst": "Tidy.\n",
    }
    changes = v.from_fragments(fragments, "changelog.d")
    assert [(c.level, c.text) for c in changes] == [
        (v.FEATURE, "Pause block production."),
        (v.FIX, "No stall."),
        (v.BREAKING, "Drop v1."),
        (v.OTHER, "Tidy."),
    ]
    assert v.render_fragments(fragments) == (
        "### Breaking\n\n- Drop v1.\n\n### Added\n\n- Pause block production.\n\n"
        "### Fixed\n\n- No stall.\n\n### Other\n\n- Tidy.\n"
    )


def test_the_last_release_ignores_candidates_builds_and_other_tags():
    tags = ["v1.2.0", "v1.10.0-rc1", "v1.9.0", "v1.9.1+3", "release-2.0.0", "v1.9.2-boot", "vnext"]
    assert str(v.last_release(tags, "v")) == "1.9.0"
    assert v.last_release([], "v") is None
