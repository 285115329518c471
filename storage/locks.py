"""Locks that serialise work across processes sharing one database.

On PostgreSQL a transaction-level advisory lock; on SQLite a write transaction already runs alone
(BEGIN IMMEDIATE), and only start-up needs a file lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect


def lock_key(name: str) -> int:
    """A stable 32-bit key for `name` (advisory locks are keyed by integers)."""
    return zlib.crc32(f"tower:{name}".encode())


async def hold_for_transaction(session: AsyncSession, name: str) -> None:
    """Wait for, then hold until this transaction ends, the lock called `name`."""
    if dialect(session) == "postgresql":
        connection = await session.connection()
        await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})


@asynccontextmanager
async def across_processes_on_sqlite(db, name: str) -> AsyncIterator[None]:
    """Hold an OS file lock beside a SQLite database while the block runs: Towers starting together
    on one file take turns preparing it (switching to WAL, migrating, mirroring the config), which
    SQLite would otherwise refuse with "database is locked". PostgreSQL needs none of this."""
    database = db.url.database if db.dialect == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    fd = os.open(f"{database}.{name}-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)  # off the loop: a twin in this process may hold it
        yield
    finally:
        os.close(fd)  # frees the lock
