"""Reviewing the git log against the changelog: what was merged and the notes do not say."""

from bot.app import open_tower
from commands.rules.review import Unmentioned, unmentioned
from tests.release_repos import CHANGELOG, released_then, repo_settings
from tests.support import run, snapshot

SECTION = """### Fixed

- Peers reconnect after a restart (#149).
- No stall on clock jumps.
"""

LOG = [  # newest first, as git log gives them
    "Fix the smeshing ticker (#151)",
    "Merge pull request #150 from spacemesh/fix-post\n\nPoST proofs survive a restart",
    "fix: no stall on clock jumps",
    "wip on the ticker",
    "Merge pull request #149 from spacemesh/peers\n\nReconnect peers",
    "Releasing v1.2.0",
]


def test_merged_and_squashed_pull_requests_the_notes_miss_are_listed_oldest_first():
    assert unmentioned(LOG, SECTION) == [
        Unmentioned(None, "wip on the ticker"),
        Unmentioned(150, "PoST proofs survive a restart"),
        Unmentioned(151, "Fix the smeshing ticker"),
    ]


def test_a_title_in_the_notes_counts_as_mentioned():
    notes = SECTION + "- Fix the smeshing ticker.\n- PoST proofs survive a restart\n- wip on the ticker\n"
    assert unmentioned(LOG, notes) == []


def test_gitlab_merge_requests_and_bookkeeping_commits():
    log = [
        "Merge branch 'fix-ticker' into 'main'\n\nFix the ticker\n\nSee merge request smesh/node!12",
        "Merge the v1.2.0 changelog into main",
        "Merge branch 'main' into feature",
    ]
    assert unmentioned(log, "- Something else.") == [Unmentioned(12, "Fix the ticker")]
    assert unmentioned(log, "- Fixed the ticker (!12).") == []
    assert Unmentioned(12, "Fix the ticker").line() == "- #12 Fix the ticker"


async def test_release_name_lists_what_the_notes_miss_before_proposing(tmp_path, db_target, clock):
    merged = [
        {"message": "Merge pull request #150 from spacemesh/fix-post\n\nPoST proofs survive a restart", "files": {}},
        {"message": "Fix the smeshing ticker (#151)", "files": {"ticker.txt": "1\n"}},
    ]
    settings, _ = repo_settings(tmp_path, released_then(CHANGELOG, *merged))
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        assert (await run(tower, "/release new demo")).ok
        before = await snapshot(tower.services.db)
        proposal = await run(tower, "/release name demo")
        assert proposal.ok and proposal.text.startswith("Proposed version for demo#1: 1.3.0")
        assert proposal.sections[0].startswith("Why:")  # the reasons, then what they leave out
        assert proposal.sections[1] == (
            "Not in the changelog: 2 changes since v1.2.0 that the notes do not mention "
            "(add them under `## [Unreleased]` before naming, if they are news):\n"
            "- #150 PoST proofs survive a restart\n- #151 Fix the smeshing ticker"
        )
        assert await snapshot(tower.services.db) == before
    finally:
        await tower.close()
