"""Simmering releases written in bulk for the simmer benchmark: one INSERT per table for all of
them, as Tower's own commands would have left them (a cut candidate live in production, simmering
since `started`, sampled every `interval` until an interval before the report moment, and the
next due moment stored as the tick stores it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, insert
from sqlmodel import select

from commands.engine.settings import Settings
from commands.rules.lifecycle import State
from commands.scope import readiness
from storage.database import Database
from storage.queries import directory
from storage.tables import Candidate, ChecklistItem, Deployment, HealthSample, Project, Release, Simmer


async def seed(
    db: Database,
    settings: Settings,
    keys: list[str],
    *,
    started: datetime,
    days: int,
    interval: timedelta,
    samples: int,
    due_at: datetime,
) -> int:
    """One simmering release per project key; returns the health samples written."""
    async with db.write() as session:
        alice = await directory.person_by_handle(session, "alice")
        assert alice is not None, "the bench's settings hold the demo team"
        project_ids = dict((await session.exec(select(Project.key, Project.id))).all())
        first = ((await session.exec(select(func.max(Release.id)))).one() or 0) + 1
        ids = range(first, first + len(keys))
        sampled = [started + interval * (i + 1) for i in range(samples)]
        await session.exec(
            insert(Release),
            params=[
                {
                    "id": rid,
                    "project_id": project_ids[key],
                    "number": 1,
                    "version": "1.3.0",
                    "state": State.SIMMERING.value,
                    "opened_at": started - timedelta(days=3),
                    "opened_by_id": alice.id,
                    "updated_at": started,
                    "scope_frozen_at": started - timedelta(hours=2),
                }
                for rid, key in zip(ids, keys, strict=True)
            ],
        )
        checklist = []
        for rid, key in zip(ids, keys, strict=True):
            project = settings.projects[key]
            checklist += [
                {"release_id": rid, "seq": seq, "text": text, "before": before, "auto": auto}
                for seq, (text, before, auto) in enumerate(readiness.template(project), start=1)
            ]
        await session.exec(insert(ChecklistItem), params=checklist)
        common = {"created_by_id": alice.id}
        await session.exec(
            insert(Candidate),
            params=[
                {"id": rid, "release_id": rid, "seq": 1, "kind": "rc", "rc": 1, "tag": "v1.3.0-rc1", "state": "cut"}
                | {"commit_sha": f"{rid:040x}", "created_at": started - timedelta(hours=1), **common}
                for rid in ids
            ],
        )
        await session.exec(
            insert(Deployment),
            params=[
                {"id": rid, "release_id": rid, "candidate_id": rid, "environment": "production", "state": "live"}
                | {"operation_id": f"bench-deploy-{rid}", "created_at": started - timedelta(minutes=30)}
                | {"finished_at": started, **common}
                for rid in ids
            ],
        )
        await session.exec(
            insert(Simmer),
            params=[
                {"id": rid, "release_id": rid, "deployment_id": rid, "state": "running", "started_at": started}
                | {"ends_at": started + timedelta(days=days), "sampled_at": sampled[-1], "due_at": due_at}
                | {"best_value": 1000.0 + 10 * (samples - 1), "last_advance_at": sampled[-1]}
                for rid in ids
            ],
        )
        rows = [
            {"simmer_id": rid, "at": at, "value": 1000.0 + 10 * i, "ok": True, "detail": str(1000 + 10 * i)}
            for rid in ids
            for i, at in enumerate(sampled)
        ]
        for chunk in range(0, len(rows), 50_000):
            await session.exec(insert(HealthSample), params=rows[chunk : chunk + 50_000])
    return len(rows)
