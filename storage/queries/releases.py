"""Releases and their transitions.

Storage does not know the lifecycle's rules; it records the transitions the rules allow, and only
if the release is still in the state the rules were checked against (a conditional UPDATE), so a
concurrent change is noticed instead of overwritten.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import and_, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.queries.bundle import preloaded
from storage.tables import Milestone, Project, Release, Transition


async def create(
    session: AsyncSession, *, project_id: int, state: str, action: str, opened_by_id: int | None, now: datetime
) -> Release:
    """A new release with the project's next number. A concurrent insert of the same number (or a
    second planning release) fails with IntegrityError; the caller reports it."""
    last = (await session.exec(select(func.max(Release.number)).where(Release.project_id == project_id))).one()
    release = Release(
        project_id=project_id,
        number=(last or 0) + 1,
        state=state,
        opened_at=now,
        opened_by_id=opened_by_id,
        updated_at=now,
    )
    session.add(release)
    await session.flush()
    session.add(
        Transition(release_id=release.id, from_state=None, to_state=state, action=action, at=now, actor_id=opened_by_id)
    )
    await session.flush()
    return release


async def move(
    session: AsyncSession,
    release: Release,
    *,
    to_state: str,
    action: str,
    actor_id: int | None,
    now: datetime,
    reason: str | None = None,
    closes: bool = False,
    also: dict[str, object] | None = None,
) -> bool:
    """Move `release` from the state it was read in to `to_state` (setting `also` with it). False
    if someone else moved it first (nothing is written then)."""
    from_state = release.state
    values: dict[str, object] = {"state": to_state, "updated_at": now, **(also or {})}
    if closes:
        values.update(closed_at=now, close_reason=reason)
    result = await session.exec(
        update(Release).where(col(Release.id) == release.id, col(Release.state) == from_state).values(**values)
    )
    if result.rowcount != 1:
        return False
    session.add(
        Transition(
            release_id=release.id,
            from_state=from_state,
            to_state=to_state,
            action=action,
            at=now,
            actor_id=actor_id,
            reason=reason,
        )
    )
    await session.flush()
    await session.refresh(release)
    return True


async def newest_open(session: AsyncSession, project_id: int, open_states: Collection[str]) -> Release | None:
    query = (
        select(Release)
        .where(Release.project_id == project_id, col(Release.state).in_(open_states))
        .order_by(col(Release.number).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def newest(session: AsyncSession, project_id: int) -> Release | None:
    query = select(Release).where(Release.project_id == project_id).order_by(col(Release.number).desc()).limit(1)
    return (await session.exec(query)).first()


async def by_id(session: AsyncSession, release_id: int) -> Release | None:
    return (await session.exec(select(Release).where(Release.id == release_id))).first()


async def project_key_of(session: AsyncSession, release_id: int) -> str:
    """The key of the project a release belongs to ("?" for a release that is gone)."""
    query = select(Project.key).join(Release, col(Release.project_id) == col(Project.id))
    return (await session.exec(query.where(col(Release.id) == release_id))).first() or "?"


async def project_keys_of(session: AsyncSession, release_ids: Collection[int]) -> dict[int, str]:
    """The project key of each release, in one query."""
    if not release_ids:
        return {}
    query = select(Release.id, Project.key).join(Project, col(Release.project_id) == col(Project.id))
    return dict((await session.exec(query.where(col(Release.id).in_(list(release_ids))))).all())


async def with_milestones_between(
    session: AsyncSession, first: date, last: date, states: Collection[str]
) -> list[tuple[Release, str]]:
    """Releases in `states` with a milestone due between `first` and `last`, with their project keys."""
    near = select(Milestone.release_id).where(col(Milestone.due) >= first, col(Milestone.due) <= last)
    query = (
        select(Release, Project.key)
        .join(Project, col(Release.project_id) == col(Project.id))
        .where(col(Release.id).in_(near), col(Release.state).in_(states))
        .order_by(col(Release.id))
    )
    return [(rel, key) for rel, key in (await session.exec(query)).all()]


async def find(
    session: AsyncSession, project_key: str, *, version: str | None, number: int | None, open_states: Collection[str]
) -> tuple[Project | None, Release | None]:
    """A project by key with the release a reference names — by version (the newest with it), by
    number, else the newest open one — in one statement; (None, None) without the project."""
    if version:
        which = col(Release.version) == version
    elif number is not None:
        which = col(Release.number) == number
    else:
        which = col(Release.state).in_(open_states)
    query = (
        select(Project, Release)
        .outerjoin(Release, and_(col(Release.project_id) == col(Project.id), which))
        .where(Project.key == project_key)
        .order_by(col(Release.number).desc())
        .limit(1)
    )
    row = (await session.exec(query)).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def by_number(session: AsyncSession, project_id: int, number: int) -> Release | None:
    query = select(Release).where(Release.project_id == project_id, Release.number == number)
    return (await session.exec(query)).first()


async def by_version(session: AsyncSession, project_id: int, version: str) -> Release | None:
    """The newest release with this version (an aborted 1.3.0 may be followed by another)."""
    query = (
        select(Release)
        .where(Release.project_id == project_id, Release.version == version)
        .order_by(col(Release.number).desc())
        .limit(1)
    )
    return (await session.exec(query)).first()


async def listing(
    session: AsyncSession, *, project_id: int | None = None, states: Collection[str] | None = None, limit: int = 100
) -> list[tuple[Release, Project]]:
    query = select(Release, Project).join(Project, col(Project.id) == Release.project_id)
    if project_id is not None:
        query = query.where(Release.project_id == project_id)
    if states is not None:
        query = query.where(col(Release.state).in_(states))
    query = query.order_by(col(Project.key), col(Release.number).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def transitions(session: AsyncSession, release_id: int) -> list[Transition]:
    loaded = preloaded(session, "release_transition", release_id)
    if loaded is not None:
        return loaded
    query = select(Transition).where(Transition.release_id == release_id).order_by(col(Transition.id))
    return list((await session.exec(query)).all())


async def with_version(
    session: AsyncSession, project_id: int, version: str, exclude_states: Collection[str]
) -> Release | None:
    """Another release of the project already carrying this version (aborted ones do not count)."""
    query = select(Release).where(
        Release.project_id == project_id, Release.version == version, col(Release.state).not_in(exclude_states)
    )
    return (await session.exec(query)).first()


async def set_issue(session: AsyncSession, release_id: int, number: int, url: str, body: str) -> None:
    await session.exec(
        update(Release).where(col(Release.id) == release_id).values(issue_number=number, issue_url=url, issue_body=body)
    )


async def moved_at(session: AsyncSession, project_id: int, action: str) -> dict[int, datetime]:
    """Release id -> when it last took `action` (e.g. when each release of the project shipped)."""
    query = (
        select(Transition.release_id, func.max(Transition.at))
        .join(Release, col(Release.id) == Transition.release_id)
        .where(Release.project_id == project_id, Transition.action == action)
        .group_by(col(Transition.release_id))
    )
    return dict((await session.exec(query)).all())
