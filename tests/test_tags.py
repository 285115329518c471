"""Candidate tag names: rc and build schemes, ordered by our own counters."""

import pytest

from commands.rules.tags import Existing, TagRefused, next_cut


def cuts(scheme, steps):
    existing, names = [], []
    for step in steps:
        cut = next_cut(scheme, "v", "0.5.0", existing, boot=step == "boot", patch=step == "patch")
        existing.append(Existing(cut.kind, cut.rc, cut.patch, cut.build))
        names.append(cut.tag)
    return names


def test_the_rc_scheme():
    assert cuts("rc", ["boot", "rc", "patch", "patch", "rc", "rc", "patch"]) == [
        "v0.5.0-boot",
        "v0.5.0-rc1",
        "v0.5.0-rc1-p1",
        "v0.5.0-rc1-p2",
        "v0.5.0-rc2",
        "v0.5.0-rc3",
        "v0.5.0-rc3-p1",
    ]


def test_more_than_ten_candidates_keep_counting():
    names = cuts("rc", ["rc"] * 12)
    assert names[9:] == ["v0.5.0-rc10", "v0.5.0-rc11", "v0.5.0-rc12"]
    assert cuts("build", ["build"] * 12)[-3:] == ["v0.5.0+10", "v0.5.0+11", "v0.5.0+12"]


@pytest.mark.parametrize(
    ("scheme", "steps", "message"),
    [
        ("rc", ["patch"], "there is no RC yet"),
        ("rc", ["rc", "boot"], "comes before the first RC"),
        ("rc", ["boot", "boot"], "exists already"),
        ("build", ["boot"], "tags builds"),
        ("build", ["patch"], "tags builds"),
    ],
)
def test_refusals_say_what_to_do(scheme, steps, message):
    with pytest.raises(TagRefused, match=message):
        cuts(scheme, steps)
