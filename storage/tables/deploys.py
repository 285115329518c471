"""Deployments and what follows them: health samples, simmers, CI deliveries, announcements."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.tables.core import utc_time


class Deployment(SQLModel, table=True):
    """A candidate deployed to an environment by the CI. The operation id is stored before the CI is
    asked, passed to it, and used to find the run again: a retry never starts a second pipeline."""

    __tablename__ = "deployment"
    __table_args__ = (
        # One deploy at a time per release and environment: a double click loses cleanly.
        sa.Index(
            "uq_deployment_in_flight",
            "release_id",
            "environment",
            unique=True,
            sqlite_where=sa.text("state IN ('pending', 'running')"),
            postgresql_where=sa.text("state IN ('pending', 'running')"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    candidate_id: int = Field(foreign_key="candidate.id")
    environment: str = Field(max_length=60)
    operation_id: str = Field(max_length=200, unique=True)
    state: str = Field(
        default="pending", max_length=20
    )  # pending, running, deployed, live, failed, refused, retiring, retired
    run_id: str | None = Field(default=None, max_length=200)
    run_url: str | None = Field(default=None, max_length=1000)
    log_url: str | None = Field(default=None, max_length=1000)
    failure: str | None = Field(default=None, max_length=2000)
    created_at: datetime = utc_time()
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    finished_at: datetime | None = utc_time(default=None)
    polled_at: datetime | None = utc_time(default=None)
    retire_at: datetime | None = utc_time(default=None)  # scheduled retirement
    retire_operation_id: str | None = Field(default=None, max_length=200)
    archive_url: str | None = Field(default=None, max_length=1000)
    retired_at: datetime | None = utc_time(default=None)


class LocalRun(SQLModel, table=True):
    """A run of the local CI (the project's commands on a Tower machine), written by the process that
    runs it: claimed once per operation id before the command starts (a second process asking for
    the same operation finds it and runs nothing), kept alive by heartbeats on real wall time while
    it runs, and closed with its result. Any other process judges the run from this row alone:
    heartbeating means running, finished means apply the result, a stale heartbeat means its
    process is gone."""

    __tablename__ = "local_run"

    operation_id: str = Field(primary_key=True, max_length=200)
    pipeline: str = Field(max_length=20)  # deploy, integrate, retire
    owner_pid: int
    owner_host: str = Field(max_length=255)  # the machine, and its process namespace: a pid means something only there
    owner_token: str = Field(max_length=64)  # random per process: which process, even after the pid is reused
    started_at: datetime = utc_time()
    heartbeat_at: datetime = utc_time()  # wall time, never a rehearsal clock: it says whether a process lives
    finished_at: datetime | None = utc_time(default=None)
    status: str = Field(default="running", max_length=20)  # running, succeeded, failed
    step: str | None = Field(default=None, max_length=20)  # the step it ended on: deploy, smoke, integrate, retire
    exit_code: int | None = None
    output: str | None = Field(default=None, max_length=2000)  # the tail of the command's output
    archive: str | None = Field(default=None, max_length=1000)  # `tower-archive: LOCATION` from a retire


class Simmer(SQLModel, table=True):
    """A deployment left running for days while its health is watched."""

    __tablename__ = "simmer"
    __table_args__ = (sa.Index("ix_simmer_due", "state", "due_at"),)

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    deployment_id: int = Field(foreign_key="deployment.id", unique=True)
    state: str = Field(default="running", max_length=20)  # running, passed, stalled, superseded
    started_at: datetime = utc_time()
    ends_at: datetime = utc_time()
    last_advance_at: datetime | None = utc_time(default=None)
    best_value: float | None = None
    sampled_at: datetime | None = utc_time(default=None)
    trouble: str | None = Field(default=None, max_length=1000)
    # The next moment the tick has something to do for it (a sample, the end, a report); None: now.
    due_at: datetime | None = utc_time(default=None)


class HealthSample(SQLModel, table=True):
    __tablename__ = "health_sample"

    id: int = Field(default=None, primary_key=True)
    simmer_id: int = Field(foreign_key="simmer.id", index=True)
    at: datetime = utc_time()
    value: float | None = None
    ok: bool = True
    detail: str | None = Field(default=None, max_length=500)


class CIDelivery(SQLModel, table=True):
    """CI callbacks seen, by their delivery id: a replayed callback is recognised and ignored."""

    __tablename__ = "ci_delivery"

    id: str = Field(primary_key=True, max_length=200)
    received_at: datetime = utc_time()


class Announcement(SQLModel, table=True):
    __tablename__ = "announcement"

    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    text: str = Field(max_length=10000)
    channels: str = Field(max_length=2000)  # comma-separated
    post_at: datetime = utc_time()
    created_at: datetime = utc_time()
    created_by_id: int | None = Field(default=None, foreign_key="person.id")
    corrections: int = 0
