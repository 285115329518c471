"""Read commands load what they show in a few statements, however much the release holds: counted
at the engine, so every query a command sends (ORM or not) counts."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from jobs.scheduler import due_work
from storage.queries import deploys
from tests.deploy_support import ready_to_deploy, settle
from tests.fakes.health import FakeHealth
from tests.support import run


@contextmanager
def statements(tower):
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            seen.append(statement)

    engine = tower.services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
async def simmering(tmp_path, db_target, clock):
    async with FakeHealth(value=1000) as health:
        tower = await ready_to_deploy(
            tmp_path,
            db_target,
            clock,
            probe={"kind": "http", "url": health.url, "json_path": "result.verified_layer", "expect": "advancing"},
            channels={"team": ["console:team"], "announce": []},
        )
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        assert (await run(tower, "/page demo the site is slow")).ok
        tower.health = health
        yield tower
        await tower.close()


@pytest.mark.parametrize(
    ("command", "most", "shows"),
    [
        ("/release status demo", 5, ["the site is slow", "rc1", "simmering"]),
        ("/release list", 3, ["1.3.0"]),
        ("/simmer status demo", 6, ["the site is slow", "rc1", "Day"]),
        ("/deploy status demo", 5, ["rc1", "live"]),
    ],
)
async def test_a_read_command_costs_a_few_statements(simmering, command, most, shows):
    await run(simmering, command)  # the first run warms what is cached per process
    with statements(simmering) as seen:
        reply = await run(simmering, command)
    assert reply.ok, reply.text
    for words in shows:  # what was loaded at once is what the card shows
        assert words in str(reply), f"{command}: {words!r} missing from {reply}"
    assert len(seen) <= most, f"{command}: {len(seen)} statements:\n" + "\n---\n".join(seen)


async def test_a_tick_with_nothing_due_reads_only_what_is_due(simmering, clock):
    await due_work(simmering.services)  # samples the simmer, and stores when it is next due
    clock.advance(minutes=1)
    with statements(simmering) as seen:
        assert await due_work(simmering.services) == 0
    # One range read per kind of work: pages, reminders, deployments in flight and due to retire, simmers.
    assert len(seen) <= 5, "\n---\n".join(seen)
    assert any("simmer.due_at" in s for s in seen)


async def test_the_next_due_moment_brings_the_simmer_back(simmering, clock):
    await due_work(simmering.services)
    async with simmering.services.db.read() as session:
        (simmer,) = await deploys.simmers(session, ("running",))
    assert simmer.due_at is not None and simmer.due_at > clock.now()
    samples = simmering.health.reads
    clock.set(simmer.due_at)
    await due_work(simmering.services)
    assert simmering.health.reads == samples + 1  # the probe is read again when its interval is up
