"""Storage on SQLite and PostgreSQL: migrations, constraints, append-only history, times."""

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import migrate
from storage.database import Database, normalise_url, redacted
from storage.queries import audit, directory, releases
from storage.queries.directory import PersonRecord

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def _project(db) -> int:
    async with db.write() as s:
        await directory.sync_projects(s, [("demo", "Demo")], NOW)
        return (await directory.project_by_key(s, "demo")).id


async def test_migrations_reach_the_head_revision_and_match_the_tables(database):
    assert await migrate.current_revision(database) == migrate.head_revision()
    assert await migrate.differences(database) == []


async def test_upgrading_a_current_database_changes_nothing(database):
    result = await migrate.upgrade(database)
    assert not result.changed and result.after == migrate.head_revision()


def test_head_revision_is_alembics_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", "storage:migrations")
    assert ScriptDirectory.from_config(cfg).get_current_head() == migrate.head_revision()


async def test_release_numbers_count_per_project(database):
    pid = await _project(database)
    async with database.write() as s:
        first = await releases.create(s, project_id=pid, state="aborted", action="open", opened_by_id=None, now=NOW)
        second = await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)
    assert (first.number, second.number) == (1, 2)


async def test_only_one_planning_release_per_project(database):
    pid = await _project(database)
    async with database.write() as s:
        await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)
    with pytest.raises(IntegrityError):
        async with database.write() as s:
            await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)
    async with database.read() as s:
        assert len(await releases.listing(s, project_id=pid)) == 1


async def test_a_move_from_a_stale_state_writes_nothing(database):
    pid = await _project(database)
    async with database.write() as s:
        rel = await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)
    async with database.write() as s:
        stale = await releases.by_number(s, pid, rel.number)
    async with database.write() as s:
        fresh = await releases.by_number(s, pid, rel.number)
        assert await releases.move(s, fresh, to_state="aborted", action="abort", actor_id=None, now=NOW, closes=True)
    async with database.write() as s:
        assert not await releases.move(s, stale, to_state="named", action="name", actor_id=None, now=NOW)
    async with database.read() as s:
        final = await releases.by_number(s, pid, rel.number)
        history = await releases.transitions(s, rel.id)
    assert final.state == "aborted" and final.closed_at == NOW
    assert [(t.from_state, t.to_state) for t in history] == [(None, "planning"), ("planning", "aborted")]


async def test_concurrent_moves_from_the_same_state_exactly_one_wins(database):
    pid = await _project(database)
    async with database.write() as s:
        rel = await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)

    async def attempt(target):
        async with database.write() as s:
            row = await releases.by_number(s, pid, rel.number)
            if row.state != "planning":
                return False
            await asyncio.sleep(0.05)  # both have read "planning" before either writes
            return await releases.move(s, row, to_state=target, action=target, actor_id=None, now=NOW)

    results = await asyncio.gather(attempt("aborted"), attempt("named"))
    assert sorted(results) == [False, True]
    async with database.read() as s:
        assert len(await releases.transitions(s, rel.id)) == 2


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET actor = 'mallory'", "DELETE FROM audit_entry"])
async def test_the_audit_log_is_append_only(database, statement):
    async with database.write() as s:
        await audit.record(s, at=NOW, actor="alice", actor_id=None, platform="console", action="release.new")
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.write() as s:
            await s.exec(text(statement))
    async with database.read() as s:
        (entry,) = await audit.entries(s)
    assert entry.actor == "alice"


async def test_transitions_are_append_only(database):
    pid = await _project(database)
    async with database.write() as s:
        await releases.create(s, project_id=pid, state="planning", action="open", opened_by_id=None, now=NOW)
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.write() as s:
            await s.exec(text("DELETE FROM release_transition"))


async def test_times_come_back_aware_and_in_utc(database):
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    async with database.write() as s:
        await audit.record(s, at=berlin, actor="alice", actor_id=None, platform="console", action="x")
    async with database.read() as s:
        (entry,) = await audit.entries(s)
    assert entry.at == NOW and entry.at.utcoffset() == timedelta(0)


async def test_naive_times_are_refused(database):
    with pytest.raises(Exception, match="naive datetime"):
        async with database.write() as s:
            await audit.record(s, at=NOW.replace(tzinfo=None), actor="a", actor_id=None, platform="console", action="x")


async def test_syncing_people_follows_config_and_keeps_departed_people(database):
    async with database.write() as s:
        await directory.sync_people(s, [PersonRecord("alice", slack_id="U0AAAAAAA"), PersonRecord("bob")], NOW)
    # The Slack id moves from alice to bob; alice leaves config.
    async with database.write() as s:
        await directory.sync_people(s, [PersonRecord("bob", slack_id="U0AAAAAAA")], NOW)
    async with database.read() as s:
        alice = await directory.person_by_handle(s, "alice")
        bob = await directory.person_by_handle(s, "bob")
    assert alice is not None and alice.slack_id is None
    assert bob.slack_id == "U0AAAAAAA"


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.read() as s:
            assert (await s.exec(text("PRAGMA journal_mode"))).one()[0] == "wal"
            assert (await s.exec(text("PRAGMA busy_timeout"))).one()[0] >= 5000
    finally:
        await db.close()


async def test_sqlite_writers_queue_instead_of_losing_updates(tmp_path):
    """Two read-modify-write transactions on one counter: BEGIN IMMEDIATE makes the second wait."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    await migrate.upgrade(db)
    pid = await _project(db)

    async def open_one():
        async with db.write() as s:
            return (
                await releases.create(s, project_id=pid, state="aborted", action="open", opened_by_id=None, now=NOW)
            ).number

    try:
        numbers = await asyncio.gather(*(open_one() for _ in range(8)))
    finally:
        await db.close()
    assert sorted(numbers) == list(range(1, 9))


def test_database_urls_are_normalised_and_passwords_hidden():
    assert normalise_url("postgres://u:secret@h/db").drivername == "postgresql+asyncpg"
    assert normalise_url("sqlite:///x.db").drivername == "sqlite+aiosqlite"
    assert "secret" not in redacted("postgresql://u:secret@h/db")
    with pytest.raises(Exception, match="SQLite or PostgreSQL"):
        normalise_url("mysql://u@h/db")


async def test_towers_starting_together_on_one_database_all_come_up(tmp_path, db_target, clock):
    """Replicas (or `tower run` beside `tower shell`) start at once: each mirrors the configured
    people and projects, and none may die of the other's inserts."""
    from bot.app import open_tower
    from tests.support import make_settings, run

    settings = make_settings(tmp_path / "data")
    towers = await asyncio.gather(
        *(open_tower(settings, db_target.env(), clock=clock) for _ in range(4)), return_exceptions=True
    )
    try:
        assert [t for t in towers if isinstance(t, BaseException)] == []
        async with towers[0].services.db.read() as session:
            assert [(await directory.person_by_handle(session, h)) is not None for h in settings.people] == [
                True
            ] * len(settings.people)
        assert (await run(towers[3], "/release new demo")).ok
    finally:
        for tower in towers:
            if not isinstance(tower, BaseException):
                await tower.close()
