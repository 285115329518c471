"""Named locks that serialise work across processes sharing one database.

On PostgreSQL a transaction-level advisory lock; on SQLite nothing is needed, because every write
transaction already begins with BEGIN IMMEDIATE and so runs alone.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession


def lock_key(name: str) -> int:
    """A stable 32-bit key for `name` (advisory locks are keyed by integers)."""
    return zlib.crc32(f"tower:{name}".encode())


async def hold_for_transaction(session: AsyncSession, name: str) -> None:
    """Wait for, then hold until this transaction ends, the lock called `name`."""
    if session.bind.dialect.name == "postgresql":
        await session.exec(text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=lock_key(name)))
