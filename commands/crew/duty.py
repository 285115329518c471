"""When a crew's duty ends. The pilot stays accountable for a shipped release through its all-clear
window (`all_clear_days` after it shipped: the CEP's "who should fix it on Saturday"); an aborted
release's crew is off duty when it is aborted; an open release's duty goes on."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine import lookup
from commands.engine.settings import ProjectSettings
from commands.rules.lifecycle import Action
from storage.queries import releases
from storage.tables import Release


async def shipped_at(session: AsyncSession, project_id: int) -> dict[int, datetime]:
    """Release id -> when it shipped, for the project's shipped releases."""
    return await releases.moved_at(session, project_id, Action.SHIP.value)


def all_clear_at(project: ProjectSettings, shipped: datetime) -> datetime:
    return shipped + timedelta(days=project.all_clear_days)


def duty_ends(project: ProjectSettings, release: Release, shipped: datetime | None) -> datetime | None:
    """The moment the crew's duty for `release` ends; None while it goes on."""
    if shipped is not None:
        return all_clear_at(project, shipped)
    return release.closed_at


last_shipped = lookup.last_shipped  # the release a bare PROJECT means after a ship
