"""The core tables: people, projects, releases and their history, candidates, operations, outbox.

Times are stored in UTC and come back timezone-aware on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out. SQLite keeps no zone, so we normalise."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; Tower stores aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utc_time(**kw: Any) -> Any:
    """A timestamp column: aware UTC in, aware UTC out."""
    return Field(sa_type=UTCDateTime, **kw)


# Primary keys are typed `int` though they are None until the row is flushed: every row Tower
# hands around has been stored, and `int | None` would make each use prove it again.


class Person(SQLModel, table=True):
    __tablename__ = "person"

    id: int = Field(default=None, primary_key=True)
    handle: str = Field(max_length=32, unique=True)
    display_name: str | None = Field(default=None, max_length=200)
    slack_id: str | None = Field(default=None, max_length=32, unique=True)
    discord_id: str | None = Field(default=None, max_length=32, unique=True)
    from_config: bool = True
    created_at: datetime = utc_time()


class Project(SQLModel, table=True):
    __tablename__ = "project"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)
    display_name: str | None = Field(default=None, max_length=200)
    created_at: datetime = utc_time()


class Release(SQLModel, table=True):
    __tablename__ = "release"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "number", name="uq_release_project_number"),
        # One unnamed release per project at a time: two `/release new` at once, one wins.
        sa.Index(
            "uq_release_one_planning",
            "project_id",
            unique=True,
            sqlite_where=sa.text("state = 'planning'"),
            postgresql_where=sa.text("state = 'planning'"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    # Our own counter per project: order never comes from version strings.
    number: int
    version: str | None = Field(default=None, max_length=100)
    state: str = Field(max_length=20)
    opened_at: datetime = utc_time()
    opened_by_id: int | None = Field(default=None, foreign_key="person.id")
    updated_at: datetime = utc_time()
    closed_at: datetime | None = utc_time(default=None)
    close_reason: str | None = Field(default=None, max_length=2000)
    scope_frozen_at: datetime | None = utc_time(default=None)  # stays set once candidates are cut
    issue_number: int | None = None  # the release issue on GitHub/GitLab, holding the checklist
    issue_url: str | None = Field(default=None, max_length=1000)
    issue_body: str | None = Field(default=None, max_length=20000)  # as Tower last wrote it: tells whose edit is newer


class Transition(SQLModel, table=True):
    """Every state change of a release, in order. Append-only."""

    __tablename__ = "release_transition"

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    action: str = Field(max_length=40)
    at: datetime = utc_time()
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    reason: str | None = Field(default=None, max_length=2000)


class AuditEntry(SQLModel, table=True):
    """Who did what, when, from where. Append-only: triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_entry"

    id: int = Field(default=None, primary_key=True)
    at: datetime = utc_time(index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor: str = Field(max_length=100)  # handle, or platform:user for people Tower does not know
    platform: str = Field(max_length=20)
    channel: str | None = Field(default=None, max_length=100)
    action: str = Field(max_length=60)  # e.g. "release.abort"
    command: str | None = Field(default=None, max_length=4000)
    project_id: int | None = Field(default=None, foreign_key="project.id")
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    detail: str | None = Field(default=None, max_length=4000)


class OutboundMessage(SQLModel, table=True):
    """A chat message Tower owes a channel. Written in the same transaction as the change it
    reports, delivered later by the courier: a crash loses nothing, a retry posts nothing twice."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        sa.Index("ix_outbound_due", "state", "next_attempt_at"),
        sa.Index("ix_outbound_channel_state", "channel", "state"),
    )

    id: int = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # idempotency key, also sent to the platform
    channel: str = Field(max_length=100)  # "slack:C123", "discord:456", "console:team"
    payload: str = Field(max_length=20000)  # the Reply, as JSON
    state: str = Field(default="pending", max_length=20)  # pending, sent, failed
    attempts: int = 0
    next_attempt_at: datetime = utc_time()
    claimed_until: datetime | None = utc_time(default=None)  # the claim's lease, on real (wall) time
    claim_owner: str | None = Field(default=None, max_length=100)  # the database session holding the claim
    claim_token: str | None = Field(default=None, max_length=40)  # this claim, checked right before posting
    created_at: datetime = utc_time()
    sent_at: datetime | None = utc_time(default=None)
    platform_message_id: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=1000)


class Candidate(SQLModel, table=True):
    """A tag cut for a release: boot, rc, interim patch, or build. Ordered by `seq`, our own counter,
    never by version precedence (which sorts rc10 before rc9 and ignores +build)."""

    __tablename__ = "candidate"
    __table_args__ = (
        sa.UniqueConstraint("release_id", "seq", name="uq_candidate_seq"),
        sa.UniqueConstraint("release_id", "tag", name="uq_candidate_tag"),
    )

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    seq: int
    kind: str = Field(max_length=10)  # boot, rc, patch, build
    rc: int | None = None
    patch: int | None = None
    build: int | None = None
    tag: str = Field(max_length=200)
    commit_sha: str | None = Field(default=None, max_length=64)
    state: str = Field(default="pending", max_length=20)  # pending (tag not yet confirmed), cut, failed
    notes: str | None = Field(default=None, max_length=20000)
    created_at: datetime = utc_time()
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class Operation(SQLModel, table=True):
    """A side effect outside the database (a release commit, a CI trigger), recorded before it is
    performed so a retry or a restart resumes it instead of doing it twice."""

    __tablename__ = "operation"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    kind: str = Field(max_length=40)
    release_id: int | None = Field(default=None, foreign_key="release.id", index=True)
    state: str = Field(default="pending", max_length=20)  # pending, done
    payload: str = Field(default="{}", max_length=20000)
    result: str | None = Field(default=None, max_length=20000)
    claimed_until: datetime | None = utc_time(default=None)
    created_at: datetime = utc_time()
    updated_at: datetime = utc_time()
    last_error: str | None = Field(default=None, max_length=2000)
