"""Mirroring configured people and projects into the database at start-up."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.settings import Settings
from storage.database import Database
from storage.locks import hold_for_transaction
from storage.queries import crew, directory
from storage.queries.directory import PersonRecord, sync_people, sync_projects
from storage.tables import Person, Project


async def sync_from_settings(db: Database, settings: Settings, now: datetime) -> int:
    people = [
        PersonRecord(handle=p.handle, display_name=p.name, slack_id=p.slack, discord_id=p.discord)
        for p in settings.people.values()
    ]
    projects = [(p.key, p.name) for p in settings.projects.values()]
    async with db.read() as session:
        # Most starts change nothing; look before taking the write lock.
        changed = await _differs(session, people, projects) or await _roster_missing(session, settings)
    if not changed:
        return 0
    async with db.write() as session:
        # Processes starting together would insert the same rows; they take turns instead, and the
        # later ones find the work done.
        await hold_for_transaction(session, "sync-settings")
        count = await sync_people(session, people, now) + await sync_projects(session, projects, now)
        return count + await _sync_rosters(session, settings, now)


async def _roster_missing(session: AsyncSession, settings: Settings) -> bool:
    for project in settings.projects.values():
        row = await directory.project_by_key(session, project.key)
        if row is None:
            return True
        joined = await crew.ever_joined(session, row.id)
        for handle in project.roster:
            person = await directory.person_by_handle(session, handle)
            if person is None or person.id not in joined:
                return True
    return False


async def _sync_rosters(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Add configured roster members who were never on the roster. Someone who left in chat stays
    left: config seeds the roster, chat keeps it."""
    added = 0
    for project in settings.projects.values():
        row = await directory.project_by_key(session, project.key)
        assert row is not None, "sync_projects has just written every configured project"
        joined = await crew.ever_joined(session, row.id)
        for handle in project.roster:
            person = await directory.person_by_handle(session, handle)
            assert person is not None, "sync_people has just written every configured person, roster members too"
            if person.id not in joined:
                await crew.join(session, row.id, person.id, now, source="config")
                added += 1
    return added


async def _differs(session: AsyncSession, people: list[PersonRecord], projects: list[tuple[str, str | None]]) -> bool:
    have_people = {
        (r.handle, r.display_name, r.slack_id, r.discord_id) for r in (await session.exec(select(Person))).all()
    }
    have_projects = {(r.key, r.display_name) for r in (await session.exec(select(Project))).all()}
    want_people = {(p.handle, p.display_name, p.slack_id, p.discord_id) for p in people}
    # Rows of people no longer configured keep their history; only their platform ids must go.
    stale_ids = any(
        (slack or discord) for handle, _, slack, discord in have_people if handle not in {p.handle for p in people}
    )
    return not want_people <= have_people or not set(projects) <= have_projects or stale_ids
