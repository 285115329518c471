"""/release new, status, list and abort end to end through the dispatcher, on both databases."""

import asyncio

import pytest

from storage.queries import audit
from tests.support import run, snapshot


async def _audit(tower):
    async with tower.services.db.read() as s:
        return await audit.entries(s)


async def test_the_newcomers_session(tower):
    opened = await run(tower, "/release new demo")
    assert opened.ok and opened.text == "Opened demo#1 (planning)."

    status = await run(tower, "/release status demo")
    assert status.ok and status.text == "demo#1: planning"
    assert {f.label: f.value for f in status.fields}["Opened"] == "2026-11-20 by alice"
    assert "open → planning by alice" in status.sections[0]

    listing = await run(tower, "/release list")
    assert listing.ok and "demo#1" in listing.sections[0] and "planning" in listing.sections[0]

    aborted = await run(tower, '/release abort demo --reason "wrong branch"')
    assert aborted.ok and aborted.text == "Aborted demo#1 (it was planning): wrong branch"

    after = await run(tower, "/release status demo#1")
    assert after.text == "demo#1: aborted"
    assert "abort → aborted by alice: wrong branch" in after.sections[0]
    assert [e.action for e in await _audit(tower)] == ["release.new", "release.abort"]
    entry = (await _audit(tower))[-1]
    assert (entry.actor, entry.platform, entry.detail) == ("alice", "console", "wrong branch")
    assert entry.command == '/release abort demo --reason "wrong branch"'


async def test_status_without_a_release_shows_every_open_one(tower, clock):
    assert (await run(tower, "/release status")).text == "No release is open."
    await run(tower, "/release new demo")
    assert (await run(tower, "/release status")).text == "demo#1: planning"


async def test_list_hides_closed_releases_unless_all(tower):
    await run(tower, "/release new demo")
    await run(tower, "/release abort demo --reason x")
    await run(tower, "/release new demo")
    open_only = await run(tower, "/release list demo")
    assert "demo#2" in open_only.sections[0] and "demo#1" not in open_only.sections[0]
    everything = await run(tower, "/release list demo --all")
    assert "demo#1" in everything.sections[0] and "aborted" in everything.sections[0]


async def test_a_project_refers_to_its_newest_open_release(tower):
    await run(tower, "/release new demo")
    await run(tower, "/release abort demo --reason first")
    await run(tower, "/release new demo")
    assert (await run(tower, "/release status demo")).text == "demo#2: planning"


async def test_a_second_planning_release_is_refused(tower):
    await run(tower, "/release new demo")
    before = await snapshot(tower.services.db)
    reply = await run(tower, "/release new demo")
    assert not reply.ok and "already has a release in planning (demo#1)" in reply.text
    assert await snapshot(tower.services.db) == before


async def test_two_people_opening_at_once_exactly_one_wins(tower):
    replies = await asyncio.gather(run(tower, "/release new demo"), run(tower, "/release new demo"))
    assert sorted(r.ok for r in replies) == [False, True]
    loser = next(r for r in replies if not r.ok)
    assert "planning" in loser.text or "same moment" in loser.text
    assert [e.action for e in await _audit(tower)] == ["release.new"]


BAD_INPUT = [
    ("/relase new demo", "Unknown command `/relase`. Did you mean `/release`?"),
    ("/release nwe demo", "Unknown command `/release nwe`. Did you mean `/release new`?"),
    ("/release", "`/release` needs a subcommand"),
    ("/release new", "`/release new` needs PROJECT."),
    ("/release new dmeo", "Unknown project `dmeo`. Did you mean `demo`?"),
    ("/release new demo extra", "Unexpected `extra`"),
    ("/release abort demo", "`/release abort` needs --reason."),
    ("/release abort demo --reson x", "Did you mean `--reason`?"),
    ("/release abort demo@1.x --reason x", "`1.x` is not a semantic version"),
    ("/release abort demo@9.9.9 --reason x", "`demo@9.9.9` is not a release of demo"),
    ("/release abort demo#7 --reason x", "`demo#7` is not a release of demo"),
    ("/release abort demo#1 --reason again", "It was already aborted"),
    ('/release abort demo --reason "oops', "Unclosed quote"),
    ("/release status nope", "Unknown project `nope`"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_INPUT)
async def test_bad_input_is_refused_clearly_and_changes_nothing(tower, text, expected):
    await run(tower, "/release new demo")
    await run(tower, "/release abort demo --reason first")
    before = await snapshot(tower.services.db)
    reply = await run(tower, text)
    assert not reply.ok
    assert expected in reply.text
    assert "\n" not in reply.text  # one line
    assert await snapshot(tower.services.db) == before


async def test_aborting_with_no_open_release_says_what_exists(tower):
    await run(tower, "/release new demo")
    await run(tower, "/release abort demo --reason first")
    reply = await run(tower, "/release abort demo --reason again")
    assert not reply.ok
    assert reply.text.startswith("demo has no open release; the last one, demo#1, is aborted.")


async def test_help_lists_every_command_and_explains_one(tower):
    overview = await run(tower, "/help")
    for spec in tower.services.registry:
        assert f"/{spec.path}" in overview.sections[0]
    page = await run(tower, "/help release abort")
    assert page.ok and page.text.startswith("`/release abort RELEASE --reason REASON`")
    fields = {f.label: f.value for f in page.fields}
    assert fields["Who may run it"] == "the pilot or release managers"
    assert fields["Example"] == '`/release abort demo --reason "wrong branch"`'
    assert (await run(tower, "/release abort --help")).text == page.text
    group = await run(tower, "/help release")
    assert "/release new" in group.sections[0] and "/release list" in group.sections[0]
    unknown = await run(tower, "/help relase")
    assert not unknown.ok and "Did you mean `/release`?" in unknown.text


async def test_help_marks_what_the_reader_may_not_run(tower):
    as_bob = await run(tower, "/help", as_="bob")
    line = next(x for x in as_bob.sections[0].splitlines() if "/release new" in x)
    assert "(release managers only)" in line
    as_alice = await run(tower, "/help")
    line = next(x for x in as_alice.sections[0].splitlines() if "/release new" in x)
    assert "only" not in line


async def test_whoami_names_the_person_and_roles(tower):
    alice = await run(tower, "/whoami")
    fields = {f.label: f.value for f in alice.fields}
    assert fields["Person"] == "Alice (`alice`)" and fields["Roles"] == "release manager of every project"
    bob = await run(tower, "/whoami", as_="bob")
    assert {f.label: f.value for f in bob.fields}["Roles"] == "team member"
