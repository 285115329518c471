"""A fresh PostgreSQL schema for one benchmark run, dropped when the run ends.

async with fresh_schema(url) as env:   # {"TOWER_DATABASE_URL": ..., "TOWER_DATABASE_SCHEMA": ...}
    ...
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage.database import normalise_url

URL_ENV = "TOWER_BENCH_DATABASE_URL"


def driver_url(url: str) -> str:
    """The URL as asyncpg itself takes it (no SQLAlchemy driver name)."""
    return normalise_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _execute(url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(driver_url(url))
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_schema(url: str, prefix: str = "bench") -> AsyncIterator[dict[str, str]]:
    """Create an empty schema; yield the environment that points Tower at it; drop it afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _execute(url, f'CREATE SCHEMA "{schema}"')
    try:
        yield {"TOWER_DATABASE_URL": url, "TOWER_DATABASE_SCHEMA": schema}
    finally:
        await _execute(url, f'DROP SCHEMA "{schema}" CASCADE')
