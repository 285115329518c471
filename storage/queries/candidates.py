"""Candidates of a release, in our own order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, update
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.queries.bundle import preloaded
from storage.tables import Candidate


async def of_release(session: AsyncSession, release_id: int, states: tuple[str, ...] | None = None) -> list[Candidate]:
    loaded = preloaded(session, "candidate", release_id)
    if loaded is not None:
        return [c for c in loaded if states is None or c.state in states]
    query = select(Candidate).where(Candidate.release_id == release_id).order_by(col(Candidate.seq))
    if states is not None:
        query = query.where(col(Candidate.state).in_(states))
    return list((await session.exec(query)).all())


async def add(
    session: AsyncSession,
    *,
    release_id: int,
    kind: str,
    tag: str,
    rc: int | None,
    patch: int | None,
    build: int | None,
    notes: str | None,
    commit_sha: str,
    created_by_id: int | None,
    now: datetime,
) -> Candidate:
    """A pending candidate with the next sequence number; a concurrent one with the same number or
    tag fails with IntegrityError (the caller reports it)."""
    last = (await session.exec(select(func.max(Candidate.seq)).where(Candidate.release_id == release_id))).one()
    candidate = Candidate(
        release_id=release_id,
        seq=(last or 0) + 1,
        kind=kind,
        rc=rc,
        patch=patch,
        build=build,
        tag=tag,
        notes=notes,
        commit_sha=commit_sha,
        state="pending",
        created_at=now,
        created_by_id=created_by_id,
    )
    session.add(candidate)
    await session.flush()
    return candidate


async def mark_cut(session: AsyncSession, candidate_id: int, commit_sha: str) -> None:
    await session.exec(
        update(Candidate).where(col(Candidate.id) == candidate_id).values(state="cut", commit_sha=commit_sha)
    )


async def set_state(session: AsyncSession, candidate_id: int, state: str) -> None:
    await session.exec(update(Candidate).where(col(Candidate.id) == candidate_id).values(state=state))


async def mark_interrupted(session: AsyncSession, candidate_id: int) -> None:
    await session.exec(
        update(Candidate)
        .where(col(Candidate.id) == candidate_id, col(Candidate.state) == "pending")
        .values(state="interrupted")
    )


async def forget_pending(session: AsyncSession, candidate_id: int) -> None:
    """A pending candidate whose tag could not be made: its number is free again."""
    await session.exec(
        delete(Candidate).where(col(Candidate.id) == candidate_id, col(Candidate.state).in_(("pending", "interrupted")))
    )
