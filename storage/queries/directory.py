"""People and projects: configured in tower.toml, mirrored into rows so history can point at them.

Rows are never deleted when config drops someone: the audit log still names them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Installation, Person, Project


@dataclass(frozen=True)
class PersonRecord:
    handle: str
    display_name: str | None = None
    slack_id: str | None = None
    discord_id: str | None = None


async def sync_people(session: AsyncSession, people: Iterable[PersonRecord], now: datetime) -> int:
    """Make the person rows match config. Returns how many rows changed."""
    wanted = {p.handle: p for p in people}
    rows = {r.handle: r for r in (await session.exec(select(Person))).all()}
    # Free platform ids first: config may have moved an id from one person to another.
    changed = 0
    for handle, row in rows.items():
        want = wanted.get(handle)
        for attr in ("slack_id", "discord_id"):
            new = getattr(want, attr) if want else None
            if getattr(row, attr) is not None and getattr(row, attr) != new:
                setattr(row, attr, None)
                changed += 1
    if changed:
        await session.flush()
    for handle, want in wanted.items():
        stored = rows.get(handle)
        if stored is None:
            session.add(
                Person(
                    handle=handle,
                    display_name=want.display_name,
                    slack_id=want.slack_id,
                    discord_id=want.discord_id,
                    from_config=True,
                    created_at=now,
                )
            )
            changed += 1
            continue
        for attr in ("display_name", "slack_id", "discord_id"):
            if getattr(stored, attr) != getattr(want, attr):
                setattr(stored, attr, getattr(want, attr))
                changed += 1
    await session.flush()
    return changed


async def sync_projects(session: AsyncSession, projects: Iterable[tuple[str, str | None]], now: datetime) -> int:
    rows = {r.key: r for r in (await session.exec(select(Project))).all()}
    changed = 0
    for key, display in projects:
        row = rows.get(key)
        if row is None:
            session.add(Project(key=key, display_name=display, created_at=now))
            changed += 1
        elif row.display_name != display:
            row.display_name = display
            changed += 1
    await session.flush()
    return changed


async def person_by_handle(session: AsyncSession, handle: str) -> Person | None:
    return (await session.exec(select(Person).where(Person.handle == handle))).first()


async def project_by_key(session: AsyncSession, key: str) -> Project | None:
    return (await session.exec(select(Project).where(Project.key == key))).first()


async def project_by_id(session: AsyncSession, project_id: int) -> Project | None:
    return (await session.exec(select(Project).where(Project.id == project_id))).first()


async def people_by_id(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, Person]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (await session.exec(select(Person).where(col(Person.id).in_(wanted)))).all()
    return {r.id: r for r in rows}


async def installation_uid(session: AsyncSession) -> str:
    """This installation's id, made once by its migration."""
    row = (await session.exec(select(Installation).order_by(col(Installation.id)).limit(1))).first()
    assert row is not None, "the migration that made the installation table wrote its row"
    return row.uid
