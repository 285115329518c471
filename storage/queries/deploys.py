"""Deployments, simmers, health samples, CI deliveries and announcements."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import insert, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.queries.bundle import preloaded
from storage.tables import Announcement, CIDelivery, Deployment, HealthSample, Project, Release, Simmer

IN_FLIGHT = ("pending", "running")
UP = ("deployed", "live")  # deployed: smoke test pending; live: it passed
DEPLOYING = ("pending", "running", "deployed")  # a deploy under way: its smoke test has not passed yet


async def add(session: AsyncSession, **values) -> Deployment:
    deployment = Deployment(**values)
    session.add(deployment)
    await session.flush()
    return deployment


async def by_id(session: AsyncSession, deployment_id: int) -> Deployment | None:
    return (await session.exec(select(Deployment).where(Deployment.id == deployment_id))).first()


async def by_operation(session: AsyncSession, operation_id: str) -> Deployment | None:
    query = select(Deployment).where(
        (Deployment.operation_id == operation_id) | (Deployment.retire_operation_id == operation_id)
    )
    return (await session.exec(query)).first()


async def of_release(session: AsyncSession, release_id: int, states: Collection[str] | None = None) -> list[Deployment]:
    loaded = preloaded(session, "deployment", release_id)
    if loaded is not None:
        return [d for d in loaded if states is None or d.state in states]
    query = select(Deployment).where(Deployment.release_id == release_id).order_by(col(Deployment.id))
    if states is not None:
        query = query.where(col(Deployment.state).in_(states))
    return list((await session.exec(query)).all())


async def in_state(session: AsyncSession, states: Collection[str]) -> list[Deployment]:
    return list(
        (
            await session.exec(select(Deployment).where(col(Deployment.state).in_(states)).order_by(col(Deployment.id)))
        ).all()
    )


async def due_retirements(session: AsyncSession, now: datetime) -> list[Deployment]:
    query = select(Deployment).where(col(Deployment.retire_at) <= now, col(Deployment.state).in_(UP))
    return list((await session.exec(query)).all())


async def move(
    session: AsyncSession, deployment_id: int, from_states: Collection[str], to_state: str, **values
) -> bool:
    """Change a deployment's state only from an expected one: a late or repeated event changes nothing."""
    result = await session.exec(
        update(Deployment)
        .where(col(Deployment.id) == deployment_id, col(Deployment.state).in_(from_states))
        .values(state=to_state, **values)
    )
    return result.rowcount == 1


async def touch(session: AsyncSession, deployment_id: int, **values) -> None:
    await session.exec(update(Deployment).where(col(Deployment.id) == deployment_id).values(**values))


# -- simmers ------------------------------------------------------------------------------------


async def start_simmer(
    session: AsyncSession, *, release_id: int, deployment_id: int, now: datetime, ends_at: datetime
) -> Simmer:
    simmer = Simmer(
        release_id=release_id,
        deployment_id=deployment_id,
        state="running",
        started_at=now,
        ends_at=ends_at,
        last_advance_at=now,
    )
    session.add(simmer)
    await session.flush()
    return simmer


async def simmers(session: AsyncSession, states: Collection[str]) -> list[Simmer]:
    return list(
        (await session.exec(select(Simmer).where(col(Simmer.state).in_(states)).order_by(col(Simmer.id)))).all()
    )


async def due_simmers(session: AsyncSession, now: datetime) -> list[tuple[Simmer, Release, str, Deployment]]:
    """Running simmers with something to do by `now`, with their release, project key and deployment:
    one query over an indexed range, however many releases simmer."""
    query = (
        select(Simmer, Release, Project.key, Deployment)
        .join(Release, col(Release.id) == col(Simmer.release_id))
        .join(Project, col(Project.id) == col(Release.project_id))
        .join(Deployment, col(Deployment.id) == col(Simmer.deployment_id))
        .where(col(Simmer.state) == "running", or_(col(Simmer.due_at).is_(None), col(Simmer.due_at) <= now))
        .order_by(col(Simmer.id))
    )
    return [
        (simmer, release, key, deployment) for simmer, release, key, deployment in (await session.exec(query)).all()
    ]


async def unschedule_simmers_after(session: AsyncSession, project_id: int, bound: datetime) -> int:
    """Make the project's running simmers due later than `bound` due now, so the next tick works out
    their next moment afresh. How many there were."""
    releases_of_project = select(Release.id).where(col(Release.project_id) == project_id)
    result = await session.exec(
        update(Simmer)
        .where(
            col(Simmer.state) == "running",
            col(Simmer.due_at) > bound,
            col(Simmer.release_id).in_(releases_of_project),
        )
        .values(due_at=None)
    )
    return int(result.rowcount or 0)


async def simmer_of(session: AsyncSession, release_id: int) -> Simmer | None:
    loaded = preloaded(session, "simmer", release_id)
    if loaded is not None:
        return loaded[-1] if loaded else None
    query = select(Simmer).where(Simmer.release_id == release_id).order_by(col(Simmer.id).desc()).limit(1)
    return (await session.exec(query)).first()


async def end_simmers(session: AsyncSession, release_id: int, to_state: str) -> None:
    await session.exec(
        update(Simmer)
        .where(col(Simmer.release_id) == release_id, col(Simmer.state) == "running")
        .values(state=to_state)
    )


async def set_simmer(session: AsyncSession, simmer_id: int, from_state: str, **values) -> bool:
    result = await session.exec(
        update(Simmer).where(col(Simmer.id) == simmer_id, col(Simmer.state) == from_state).values(**values)
    )
    return result.rowcount == 1


async def add_sample(
    session: AsyncSession, simmer_id: int, at: datetime, value: float | None, ok: bool, detail: str
) -> None:
    # A plain INSERT: nothing reads the sample back in this transaction, and the ORM's flush costs more.
    values = {"simmer_id": simmer_id, "at": at, "value": value, "ok": ok, "detail": detail[:500]}
    await session.exec(insert(HealthSample).values(**values))


async def samples(session: AsyncSession, simmer_id: int) -> list[HealthSample]:
    query = select(HealthSample).where(HealthSample.simmer_id == simmer_id).order_by(col(HealthSample.at))
    return list((await session.exec(query)).all())


# -- CI deliveries ------------------------------------------------------------------------------


async def seen_delivery(session: AsyncSession, delivery_id: str) -> bool:
    return (await session.exec(select(CIDelivery).where(CIDelivery.id == delivery_id))).first() is not None


async def first_delivery(session: AsyncSession, delivery_id: str, now: datetime) -> bool:
    """Record a callback's delivery id; False if it was seen before (a replay)."""
    upsert = postgresql.insert if dialect(session) == "postgresql" else sqlite.insert
    result = await session.exec(
        upsert(CIDelivery).values(id=delivery_id, received_at=now).on_conflict_do_nothing(index_elements=["id"])
    )
    return result.rowcount == 1


# -- announcements ------------------------------------------------------------------------------


async def add_announcement(session: AsyncSession, **values) -> Announcement:
    announcement = Announcement(**values)
    session.add(announcement)
    await session.flush()
    return announcement


async def announcements(session: AsyncSession, release_id: int) -> list[Announcement]:
    query = select(Announcement).where(Announcement.release_id == release_id).order_by(col(Announcement.id))
    return list((await session.exec(query)).all())
