"""Read commands load what they show in a few statements, however much the release holds: counted
at the engine, so every query a command sends (ORM or not) counts."""

from contextlib import contextmanager

import pytest
from sqlalchemy import event

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
