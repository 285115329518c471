"""The crew: who is on the roster, who flies each release, who is away, and pages."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_time


class RosterMember(SQLModel, table=True):
    """A person's place on a project's roster; leaving ends the row, joining again starts a new one."""

    __tablename__ = "roster_member"
    __table_args__ = (
        sa.Index(
            "uq_roster_active",
            "project_id",
            "person_id",
            unique=True,
            sqlite_where=sa.text("left_at IS NULL"),
            postgresql_where=sa.text("left_at IS NULL"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    joined_at: datetime = utc_time()
    left_at: datetime | None = utc_time(default=None)
    source: str = Field(default="chat", max_length=20)  # config or chat


class CrewSeat(SQLModel, table=True):
    """A seat in a release's crew. One active pilot and one active co-pilot per release; any number
    of jump seats. A proposed seat waits for the person to accept it."""

    __tablename__ = "crew_seat"
    __table_args__ = (
        sa.Index(
            "uq_crew_active_role",
            "release_id",
            "role",
            unique=True,
            sqlite_where=sa.text("state = 'active' AND role != 'jumpseat'"),
            postgresql_where=sa.text("state = 'active' AND role != 'jumpseat'"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    role: str = Field(max_length=20)  # pilot, copilot, jumpseat
    state: str = Field(default="active", max_length=20)  # active, proposed, vacated, declined
    assigned_at: datetime = utc_time()
    assigned_by_id: int | None = Field(default=None, foreign_key="person.id")
    ended_at: datetime | None = utc_time(default=None)
    note: str | None = Field(default=None, max_length=1000)


class Away(SQLModel, table=True):
    __tablename__ = "away"

    id: int = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    first_day: date
    last_day: date
    created_at: datetime = utc_time()


class Page(SQLModel, table=True):
    """A page and its escalation: the step it is at and when the next one is due live here, so the
    scheduler only has to wake up and a restart neither repeats nor skips a step."""

    __tablename__ = "page"
    __table_args__ = (sa.Index("ix_page_due", "state", "next_step_at"),)

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    message: str = Field(max_length=2000)
    source: str = Field(default="manual", max_length=40)  # manual, deploy-failed, smoke-failed, health-stalled
    state: str = Field(default="open", max_length=20)  # open, acknowledged, resolved
    step: int = 0  # the escalation step last delivered
    next_step_at: datetime | None = utc_time(default=None)
    created_at: datetime = utc_time()
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    acknowledged_at: datetime | None = utc_time(default=None)
    acknowledged_by_id: int | None = Field(default=None, foreign_key="person.id")
