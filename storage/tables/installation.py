"""This installation of Tower: one row, made by the migration that created the table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.tables.core import utc_time


class Installation(SQLModel, table=True):
    """A random id that names this installation (every replica on the database shares it): calendar
    events carry it in their UIDs, so two Towers' events never collide in one calendar."""

    __tablename__ = "installation"

    id: int = Field(default=None, primary_key=True)
    uid: str = Field(max_length=64, unique=True)
    created_at: datetime = utc_time()


class LeaderHeartbeat(SQLModel, table=True):
    """The holder of an elected role ("scheduler", "discord") writes here while it holds it, on the
    database's clock: a standby fences a holder gone silent, and /metrics says when nobody leads."""

    __tablename__ = "leader_heartbeat"

    role: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=100)  # the holder's application_name
    seen_at: datetime = utc_time()
