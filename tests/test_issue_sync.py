"""The release issue on GitHub (a local fake): opened with the checklist, kept in sync both ways."""

import pytest

from bot.app import open_tower
from commands.release.issue_sync import sync_release_issues
from tests.fakes.github_server import FakeGitHub
from tests.release_repos import released_then
from tests.support import run
from tests.test_hosted_forges import hosted_settings


@pytest.fixture
async def synced(tmp_path, db_target, clock):
    async with FakeGitHub("acme/demo", token="ghp_secret") as fake:
        fake.seed(released_then())
        settings = hosted_settings(tmp_path, "github", "acme/demo", fake.base_url)
        tower = await open_tower(settings, {**db_target.env(), "GITHUB_TOKEN": "ghp_secret"}, clock=clock)
        tower.fake = fake
        await run(tower, "/release new demo")
        try:
            yield tower
        finally:
            await tower.close()


def issue(tower):
    return tower.fake.issues.items[1]


def set_box(body: str, seq: int, ticked: bool) -> str:
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if f"] {seq}. " in line:
            lines[i] = line.replace("- [ ]", "- [x]") if ticked else line.replace("- [x]", "- [ ]")
    return "\r\n".join(lines) + "\r\n"  # browsers send CRLF


async def test_the_issue_is_opened_once_with_the_checklist(synced):
    assert await sync_release_issues(synced.services) == 1
    assert await sync_release_issues(synced.services) == 0  # nothing changed, nothing written
    assert len(synced.fake.issues.items) == 1
    assert issue(synced)["title"] == "Release Demo #1"
    body = issue(synced)["body"]
    assert "- [ ] 1. Changelog named (Tower) — before rc" in body
    assert "- [ ] 6. Release notes reviewed — before ship" in body


async def test_ticks_in_chat_reach_the_issue_and_ticks_on_the_issue_reach_tower(synced):
    await sync_release_issues(synced.services)
    await run(synced, "/checklist check demo 6")
    await sync_release_issues(synced.services)
    assert "- [x] 6. Release notes reviewed" in issue(synced)["body"]
    issue(synced)["body"] = set_box(issue(synced)["body"], 7, True)  # someone ticks item 7 on GitHub
    await sync_release_issues(synced.services)
    lines = (await run(synced, "/checklist show demo")).sections[0].splitlines()
    assert lines[6] == "[x] 7. Upgrade guide written (before ship) — forge, 2026-11-20 09:00 UTC"
    assert "- [x] 7. Upgrade guide written" in issue(synced)["body"] and "\r" not in issue(synced)["body"]


async def test_towers_own_items_cannot_be_ticked_on_the_forge(synced):
    await sync_release_issues(synced.services)
    issue(synced)["body"] = set_box(issue(synced)["body"], 2, True)  # "Scope frozen", ticked by hand on GitHub
    await sync_release_issues(synced.services)
    assert "- [ ] 2. Scope frozen (Tower)" in issue(synced)["body"]  # put back
    assert (await run(synced, "/checklist show demo")).sections[0].splitlines()[1].startswith("[ ] 2.")


async def test_naming_renames_the_issue(synced):
    await sync_release_issues(synced.services)
    await run(synced, "/release name demo --yes")
    await sync_release_issues(synced.services)
    assert issue(synced)["title"] == "Release Demo 1.3.0"
    assert "- [x] 1. Changelog named (Tower)" in issue(synced)["body"]


async def test_both_sides_changing_different_items_keeps_both(synced):
    await sync_release_issues(synced.services)
    await run(synced, "/checklist check demo 6")  # in chat
    issue(synced)["body"] = set_box(issue(synced)["body"], 8, True)  # on GitHub, before Tower pushed item 6
    await sync_release_issues(synced.services)
    body = issue(synced)["body"]
    assert "- [x] 6. Release notes reviewed" in body and "- [x] 8. Dashboards checked after deploy" in body
