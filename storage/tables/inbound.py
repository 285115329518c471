"""Requests Tower has already taken from outside, remembered for as long as a replay could still
pass the sender's signature check."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.tables.core import utc_time


class TakenRequest(SQLModel, table=True):
    __tablename__ = "taken_request"

    key: str = Field(primary_key=True, max_length=200)  # "slack:TEAM:TRIGGER_ID", …
    taken_at: datetime = utc_time(index=True)
