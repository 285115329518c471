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
