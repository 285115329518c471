"""Fixtures. Storage and command tests run on SQLite and on PostgreSQL; PostgreSQL ones need
TOWER_TEST_DATABASE_URL and skip, saying so, without it (CI always sets it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.app import Tower, open_tower
from storage.database import Database, normalise_url
from tests.fakes.clock import FakeClock
from tests.support import make_settings

PG_ENV = "TOWER_TEST_DATABASE_URL"


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a test's database lives: a SQLite file, or a fresh schema in PostgreSQL."""

    kind: str
    url: str
    schema: str | None = None

    def env(self) -> dict[str, str]:
        env = {"TOWER_DATABASE_URL": self.url}
        if self.schema:
            env["TOWER_DATABASE_SCHEMA"] = self.schema
        return env


def _pg_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_target(request, tmp_path) -> AsyncIterator[DatabaseTarget]:
    if request.param == "sqlite":
        yield DatabaseTarget("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'tower.db'}")
        return
    url = _pg_url()
    if url is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}, e.g. postgresql://postgres@127.0.0.1:5432/test")
    import asyncpg

    plain = normalise_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    yield DatabaseTarget("postgresql", url, schema)
    conn = await asyncpg.connect(plain)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path / "data")


@pytest.fixture
async def tower(settings, db_target, clock) -> AsyncIterator[Tower]:
    t = await open_tower(settings, db_target.env(), clock=clock)
    yield t
    await t.close()


@pytest.fixture
async def database(db_target) -> AsyncIterator[Database]:
    """A migrated, empty database."""
    from storage import migrate

    db = Database(db_target.url, schema=db_target.schema)
    await migrate.upgrade(db)
    yield db
    await db.close()


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch):
    # slack_sdk and aiohttp honour HTTP(S)_PROXY but not NO_PROXY (the websocket too): a proxy in
    # the environment would swallow the requests to the fakes on 127.0.0.1.
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _discord_endpoints_restored():
    # discord.py keeps its endpoints in class attributes; Tower points them at a fake, tests put them back.
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    original = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = original
