"""Reading and rewriting Keep a Changelog files."""

import pytest

from commands.rules import changelog as cl

# The shape of Keep a Changelog's own file: lower-case link labels, wrapped entries, several
# subsections per release, a final link to a release page rather than a comparison.
KEEP_A_CHANGELOG_SHAPE = """\
# Changelog

All notable changes to this project will be documented in this file.

The format is based on [Keep a Changelog](https://keepachangelog.com/en/1.1.0/),
and this project adheres to [Semantic Versioning](https://semver.org/spec/v2.0.0.html).

## [Unreleased]

### Added

- Spanish translation.
- Italian translation that wraps
  onto a second line.

## [1.1.1] - 2023-03-05

### Added

- Arabic translation (#444).

### Fixed

- Missing periods at the end of each change (#451).

### Removed

- Unused stylesheet.

## [1.1.0] - 2019-02-15

### Added

- Danish translation (#297).

## [0.0.1] - 2014-05-31

### Added

- This file.

[unreleased]: https://github.com/o/kac/compare/v1.1.1...HEAD
[1.1.1]: https://github.com/o/kac/compare/v1.1.0...v1.1.1
[1.1.0]: https://github.com/o/kac/compare/v0.0.1...v1.1.0
[0.0.1]: https://github.com/o/kac/releases/tag/v0.0.1
"""


def test_reads_unreleased_entries_with_their_sections_and_lines():
    log = cl.parse(KEEP_A_CHANGELOG_SHAPE)
    assert [(e.kind, e.text, e.line) for e in log.unreleased.entries] == [
        ("added", "Spanish translation.", 12),
        ("added", "Italian translation that wraps onto a second line.", 13),
    ]
    assert [s.version for s in log.releases] == ["1.1.1", "1.1.0", "0.0.1"]
    assert log.release("1.1.1").date == "2023-03-05"
    assert [e.kind for e in log.release("1.1.1").entries] == ["added", "fixed", "removed"]


def test_naming_renames_unreleased_under_a_fresh_one_and_updates_links():
    text = cl.name_release(cl.parse(KEEP_A_CHANGELOG_SHAPE), "1.2.0", "2026-11-21")
    assert "## [Unreleased]\n\n## [1.2.0] - 2026-11-21\n\n### Added\n\n- Spanish translation." in text
    assert "[unreleased]: https://github.com/o/kac/compare/v1.2.0...HEAD\n" in text
    assert "[1.2.0]: https://github.com/o/kac/compare/v1.1.1...v1.2.0\n[1.1.1]:" in text
    reread = cl.parse(text)
    assert reread.unreleased.entries == [] and [s.version for s in reread.releases][:2] == ["1.2.0", "1.1.1"]
    assert text.endswith("[0.0.1]: https://github.com/o/kac/releases/tag/v0.0.1\n")


def test_naming_without_links_or_a_prefix():
    text = "# Changelog\n\n## Unreleased\n\n### Fixed\n\n- A bug.\n"
    named = cl.name_release(cl.parse(text), "0.1.1", "2026-01-02", tag_prefix="")
    assert named == "# Changelog\n\n## Unreleased\n\n## [0.1.1] - 2026-01-02\n\n### Fixed\n\n- A bug.\n"


def test_the_section_body_renders_as_notes():
    log = cl.parse(KEEP_A_CHANGELOG_SHAPE)
    assert cl.section_text(log, "1.1.0") == "### Added\n\n- Danish translation (#297)."
    assert cl.section_text(log, None).startswith("### Added\n\n- Spanish translation.")
    assert cl.section_text(log, "9.9.9") is None


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# Changelog\n\n## [1.0.0] - 2026-01-01\n\n- x\n", 3, "there is no `## [Unreleased]` section"),
        ("# Changelog\n\n## [Unreleased]\n\n## [1.0] - 2026\n", 5, "`## [1.0] - 2026` is not a release heading"),
        ("# Changelog\n\n## [Unreleased]\n\n## Unreleased\n", 5, "a second `## [Unreleased]` section"),
        ("# Changelog\n", None, "there is no `## [Unreleased]` section"),
    ],
)
def test_malformed_files_are_reported_with_the_line(text, line, message):
    with pytest.raises(cl.ChangelogError) as err:
        cl.parse(text, "CHANGELOG.md")
    assert err.value.line == line
    assert message in str(err.value)
    assert str(err.value).startswith(f"CHANGELOG.md:{line}:" if line else "CHANGELOG.md:")


def test_breaking_markers():
    text = """\
## [Unreleased]

### Breaking

- The v1 API is gone.

### Changed

- BREAKING: config keys renamed.
- feat!: new storage format.
- A harmless change.
"""
    entries = cl.parse(text).unreleased.entries
    assert [e.breaking for e in entries] == [True, True, True, False]


def test_headings_with_v_prefix_dashes_and_yanked_markers_parse():
    text = "## [Unreleased]\n\n## v2.0.0 – 2026-01-01\n\n## [1.0.0] - 2025-01-01 [YANKED]\n\n## 0.9.0\n"
    assert [(s.version, s.date) for s in cl.parse(text).releases] == [
        ("2.0.0", "2026-01-01"),
        ("1.0.0", "2025-01-01"),
        ("0.9.0", None),
    ]
