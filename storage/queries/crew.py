"""Rosters, crew seats and away periods."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Away, CrewSeat, Person, Release, RosterMember

ACTIVE, PROPOSED = "active", "proposed"


async def roster(session: AsyncSession, project_id: int) -> list[tuple[RosterMember, Person]]:
    """Current members in the order they joined."""
    query = (
        select(RosterMember, Person)
        .join(Person, col(Person.id) == RosterMember.person_id)
        .where(RosterMember.project_id == project_id, col(RosterMember.left_at).is_(None))
        .order_by(col(RosterMember.joined_at), col(RosterMember.id))
    )
    return list((await session.exec(query)).all())


async def ever_joined(session: AsyncSession, project_id: int) -> set[int]:
    """Everyone who was ever on the roster (config sync adds only people never seen there)."""
    rows = await session.exec(select(RosterMember.person_id).where(RosterMember.project_id == project_id))
    return set(rows.all())


async def join(session: AsyncSession, project_id: int, person_id: int, now: datetime, source: str) -> None:
    session.add(RosterMember(project_id=project_id, person_id=person_id, joined_at=now, source=source))
    await session.flush()


async def leave(session: AsyncSession, project_id: int, person_id: int, now: datetime) -> bool:
    result = await session.exec(
        update(RosterMember)
        .where(
            col(RosterMember.project_id) == project_id,
            col(RosterMember.person_id) == person_id,
            col(RosterMember.left_at).is_(None),
        )
        .values(left_at=now)
    )
    return result.rowcount == 1


async def seats(
    session: AsyncSession, release_id: int, states: Collection[str] = (ACTIVE, PROPOSED)
) -> list[tuple[CrewSeat, Person]]:
    query = (
        select(CrewSeat, Person)
        .join(Person, col(Person.id) == CrewSeat.person_id)
        .where(CrewSeat.release_id == release_id, col(CrewSeat.state).in_(states))
        .order_by(col(CrewSeat.id))
    )
    return list((await session.exec(query)).all())


async def add_seat(
    session: AsyncSession,
    *,
    release_id: int,
    person_id: int,
    role: str,
    state: str,
    now: datetime,
    assigned_by_id: int | None,
    note: str | None = None,
) -> CrewSeat:
    seat = CrewSeat(
        release_id=release_id,
        person_id=person_id,
        role=role,
        state=state,
        assigned_at=now,
        assigned_by_id=assigned_by_id,
        note=note,
    )
    session.add(seat)
    await session.flush()
    return seat


async def end_seat(
    session: AsyncSession, seat_id: int, from_state: str, to_state: str, now: datetime, note: str | None = None
) -> bool:
    values: dict[str, object] = {"state": to_state, "ended_at": now}
    if note is not None:
        values["note"] = note
    result = await session.exec(
        update(CrewSeat).where(col(CrewSeat.id) == seat_id, col(CrewSeat.state) == from_state).values(**values)
    )
    return result.rowcount == 1


async def activate_seat(session: AsyncSession, seat_id: int) -> bool:
    result = await session.exec(
        update(CrewSeat).where(col(CrewSeat.id) == seat_id, col(CrewSeat.state) == PROPOSED).values(state=ACTIVE)
    )
    return result.rowcount == 1


async def crews(session: AsyncSession, project_id: int) -> list[tuple[Release, dict[str, str]]]:
    """Every release of the project with its active crew ({role: handle}), in release order."""
    query = (
        select(Release, CrewSeat.role, Person.handle)
        .join(CrewSeat, col(CrewSeat.release_id) == Release.id)
        .join(Person, col(Person.id) == CrewSeat.person_id)
        .where(Release.project_id == project_id, CrewSeat.state == ACTIVE, CrewSeat.role != "jumpseat")
        .order_by(col(Release.number))
    )
    by_release: dict[int, tuple[Release, dict[str, str]]] = {}
    for release, role, handle in (await session.exec(query)).all():
        by_release.setdefault(release.id, (release, {}))[1][role] = handle
    return list(by_release.values())


async def people_who_left_seat(session: AsyncSession, release_id: int, states: Collection[str]) -> set[str]:
    query = (
        select(Person.handle)
        .join(CrewSeat, col(CrewSeat.person_id) == Person.id)
        .where(CrewSeat.release_id == release_id, col(CrewSeat.state).in_(states))
    )
    return set((await session.exec(query)).all())


async def add_away(session: AsyncSession, person_id: int, first: date, last: date, now: datetime) -> None:
    session.add(Away(person_id=person_id, first_day=first, last_day=last, created_at=now))
    await session.flush()


async def away_on(session: AsyncSession, day: date) -> dict[str, Away]:
    """Handle -> the away period covering `day`."""
    query = (
        select(Away, Person.handle)
        .join(Person, col(Person.id) == Away.person_id)
        .where(col(Away.first_day) <= day, col(Away.last_day) >= day)
    )
    return {handle: away for away, handle in (await session.exec(query)).all()}


async def away_from(session: AsyncSession, day: date) -> list[tuple[Away, str]]:
    query = (
        select(Away, Person.handle)
        .join(Person, col(Person.id) == Away.person_id)
        .where(col(Away.last_day) >= day)
        .order_by(col(Away.first_day))
    )
    return list((await session.exec(query)).all())
