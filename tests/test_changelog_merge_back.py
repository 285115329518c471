"""After a ship, main's changelog takes the released section and keeps what was added meanwhile."""

from commands.rules.changelog import merge_release, parse

MAIN = """\
# Changelog

## [Unreleased]

### Added

- Pausing block production.
- Faster sync,
  across two lines.

### Fixed

- No stall on clock jumps.

## [1.2.0] - 2026-10-01

### Added

- Health endpoint.

[Unreleased]: https://example.org/demo/compare/v1.2.0...HEAD
[1.2.0]: https://example.org/demo/compare/v1.1.0...v1.2.0
"""

RELEASE = """\
# Changelog

## [Unreleased]

## [1.3.0] - 2026-11-20

### Added

- Pausing block production.

### Fixed

- No stall on clock jumps.

## [1.2.0] - 2026-10-01

### Added

- Health endpoint.

[Unreleased]: https://example.org/demo/compare/v1.3.0...HEAD
[1.3.0]: https://example.org/demo/compare/v1.2.0...v1.3.0
[1.2.0]: https://example.org/demo/compare/v1.1.0...v1.2.0
"""


def test_main_gets_the_released_section_and_keeps_what_was_added_meanwhile():
    merged = merge_release(MAIN, RELEASE)
    log = parse(merged)
    assert [e.text for e in log.unreleased.entries] == ["Faster sync, across two lines."]
    assert [s.version for s in log.releases] == ["1.3.0", "1.2.0"]
    assert [e.text for e in log.release("1.3.0").entries] == ["Pausing block production.", "No stall on clock jumps."]
    assert "### Fixed" not in merged.split("## [1.3.0]")[0]  # an emptied subsection goes too
    assert merged.endswith(
        "[Unreleased]: https://example.org/demo/compare/v1.3.0...HEAD\n"
        "[1.3.0]: https://example.org/demo/compare/v1.2.0...v1.3.0\n"
        "[1.2.0]: https://example.org/demo/compare/v1.1.0...v1.2.0\n"
    )
    assert "\n\n\n" not in merged


def test_a_main_that_already_has_the_release_is_left_as_it_is():
    merged = merge_release(MAIN, RELEASE)
    assert merge_release(merged, RELEASE) == merged


def test_a_main_that_did_not_move_ends_up_as_the_release_branch():
    main = MAIN.replace("- Faster sync,\n  across two lines.\n", "")
    assert merge_release(main, RELEASE) == RELEASE


def test_without_compare_links_nothing_is_invented():
    strip = lambda text: text.split("\n[Unreleased]")[0] + "\n"  # noqa: E731
    merged = merge_release(strip(MAIN), strip(RELEASE))
    assert "compare" not in merged and parse(merged).release("1.3.0") is not None


def test_entries_polished_on_the_release_branch_still_leave_unreleased():
    polished = RELEASE.replace("- Pausing block production.", "- Block production can be paused (`--pause`).")
    base = MAIN.replace("- Faster sync,\n  across two lines.\n", "")  # what the release was named from
    merged = merge_release(MAIN, polished, base_text=base)
    assert [e.text for e in parse(merged).unreleased.entries] == ["Faster sync, across two lines."]
    assert "Pausing block production" not in merged
    unpolished = merge_release(MAIN, polished)  # without the base, only the text can tell
    assert "Pausing block production" in unpolished.split("## [1.3.0]")[0]
