"""Taken requests: the first to record a key takes the request; every replica sees the record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import TakenRequest


async def take(session: AsyncSession, key: str, now: datetime, forget_before: datetime) -> bool:
    """Record `key` as taken; False if it was taken before. Records older than `forget_before`
    (past any replay's signature window) are dropped on the way."""
    await session.exec(delete(TakenRequest).where(col(TakenRequest.taken_at) < forget_before))
    insert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    result = await session.exec(
        insert(TakenRequest).values(key=key, taken_at=now).on_conflict_do_nothing(index_elements=["key"])
    )
    return result.rowcount == 1
