"""A database that cannot take writes — its disk full, or switched to read-only — is reported as
such, in the reply and in the log, not as "unreachable or busy"; nothing is half-written."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import event

from storage.database import Database, normalise_url
from tests.support import run, snapshot


async def test_a_full_sqlite_database_says_storage_is_full(tower, db_target, caplog):
    if db_target.kind != "sqlite":
        pytest.skip("PostgreSQL's full disk cannot be made here; its read-only case is below")
    assert (await run(tower, "/release new demo")).ok
    engine = tower.services.db.engine.sync_engine

    @event.listens_for(engine, "connect")
    def no_room(dbapi_connection, _):  # the file may not grow past what it has now
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA page_count")
        pages = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    await tower.services.db.engine.dispose()
    before = await snapshot(tower.services.db)
    with caplog.at_level(logging.WARNING):
        for n in range(200):
            reply = await run(tower, f'/scope add demo "feature {n} {"x" * 400}"')
            if not reply.ok:
                break
    assert "storage is full" in reply.text and "unreachable" not in reply.text, reply.text
    assert any("full" in r.getMessage() for r in caplog.records if r.name == "tower.commands")
    assert (await snapshot(tower.services.db))["release"] == before["release"]


async def test_a_read_only_postgresql_says_so(tower, db_target, caplog):
    if db_target.kind != "postgresql":
        pytest.skip("read-only roles are PostgreSQL's")
    import asyncpg

    assert (await run(tower, "/release new demo")).ok
    role = f"ro_{uuid.uuid4().hex[:10]}"
    plain = normalise_url(db_target.url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(plain)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        await admin.execute(f'GRANT USAGE ON SCHEMA "{db_target.schema}" TO {role}')
        await admin.execute(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "{db_target.schema}" TO {role}')
        await admin.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{db_target.schema}" TO {role}')
        read_only = Database(
            normalise_url(db_target.url).set(username=role).render_as_string(hide_password=False),
            schema=db_target.schema,
        )
        writable, tower.services.db = tower.services.db, read_only
        try:
            with caplog.at_level(logging.WARNING):
                reply = await run(tower, "/release abort demo --reason testing")
        finally:
            tower.services.db = writable
            await read_only.close()
    finally:
        await admin.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{db_target.schema}" FROM {role}')
        await admin.execute(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{db_target.schema}" FROM {role}')
        await admin.execute(f'REVOKE ALL ON SCHEMA "{db_target.schema}" FROM {role}')
        await admin.execute(f"DROP ROLE {role}")
        await admin.close()
    assert "read-only" in reply.text and "unreachable" not in reply.text, reply.text
    assert any("read-only" in r.getMessage() for r in caplog.records if r.name == "tower.commands")
    assert (await run(tower, "/release status demo")).text == "demo#1: planning"
