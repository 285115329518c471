"""Discipline around a release: its scope with acceptance tests, its checklist, its milestones."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_time


class Feature(SQLModel, table=True):
    __tablename__ = "feature"

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    title: str = Field(max_length=500)
    tests: str = Field(default="", max_length=2000)  # comma-separated test ids or links
    state: str = Field(default="active", max_length=20)  # active, removed
    added_at: datetime = utc_time()
    added_by_id: int | None = Field(default=None, foreign_key="person.id")
    removed_at: datetime | None = utc_time(default=None)
    removed_by_id: int | None = Field(default=None, foreign_key="person.id")
    override: str | None = Field(default=None, max_length=1000)  # why it changed after the freeze
    reason: str | None = Field(default=None, max_length=1000)  # why it was removed


class TestResult(SQLModel, table=True):
    """An acceptance test's outcome on a candidate; the newest row per (candidate, test) counts."""

    __tablename__ = "test_result"
    __test__ = False  # not a pytest test class

    id: int = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidate.id", index=True)
    test: str = Field(max_length=500)
    outcome: str = Field(max_length=10)  # pass, fail
    recorded_at: datetime = utc_time()
    recorded_by_id: int | None = Field(default=None, foreign_key="person.id")
    source: str = Field(default="hand", max_length=20)  # hand, ci
    url: str | None = Field(default=None, max_length=1000)


class ChecklistItem(SQLModel, table=True):
    __tablename__ = "checklist_item"
    __table_args__ = (sa.UniqueConstraint("release_id", "seq", name="uq_checklist_seq"),)

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    seq: int
    text: str = Field(max_length=500)
    before: str | None = Field(default=None, max_length=10)  # rc, deploy, ship
    auto: str | None = Field(default=None, max_length=40)  # what Tower verifies itself; None: ticked by hand
    checked_at: datetime | None = utc_time(default=None)
    checked_by_id: int | None = Field(default=None, foreign_key="person.id")
    checked_via: str | None = Field(default=None, max_length=40)  # console, slack, discord, forge
    # A post-deploy step belongs to its deployment: void once that one failed, was replaced or retired.
    deployment_id: int | None = Field(default=None, foreign_key="deployment.id")


class Milestone(SQLModel, table=True):
    __tablename__ = "milestone"
    __table_args__ = (
        sa.UniqueConstraint("release_id", "name", name="uq_milestone_name"),
        sa.Index("ix_milestone_due", "due"),
    )

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    name: str = Field(max_length=20)  # boot, rc1, rc2, …, final
    due: date
    created_at: datetime = utc_time()
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class CommitCheck(SQLModel, table=True):
    """What the CI says of a commit's tests, as Tower last asked (the forge's statuses and check
    runs, or the project's test command); the newest row per release counts for its checklist."""

    __tablename__ = "commit_check"

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    sha: str = Field(max_length=64)
    state: str = Field(max_length=10)  # passed, failed, pending, none
    detail: str = Field(default="", max_length=2000)
    source: str = Field(max_length=20)  # github, gitlab, command
    checked_at: datetime = utc_time()
