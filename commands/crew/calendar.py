"""A project's calendar: who flies which release, so people see their duty in their calendar."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.ical import Event, calendar
from storage.queries import crew as stored
from storage.queries import directory

OPEN_DUTY = timedelta(days=30)  # an open release's duty shows this far ahead until it has dates


async def project_calendar(svc: Services, project: ProjectSettings) -> str:
    tz = ZoneInfo(project.timezone)
    now = svc.clock.now()
    events = []
    async with svc.db.read() as session:
        row = await directory.project_by_key(session, project.key)
        crews = await stored.crews(session, row.id) if row else []
    for release, seats in crews:
        start = release.opened_at.astimezone(tz).date()
        end = (
            release.closed_at.astimezone(tz).date()
            if release.closed_at
            else max(now.astimezone(tz).date(), start) + OPEN_DUTY
        )
        name = f"{project.key} {release.version}" if release.version else f"{project.key}#{release.number}"
        crew = ", ".join(
            f"{word} {seats[role]}" for role, word in (("pilot", "pilot"), ("copilot", "co-pilot")) if role in seats
        )
        events.append(
            Event(
                uid=f"tower-{project.key}-release-{release.id}-crew",
                summary=f"{name}: {crew}",
                start=start,
                end=max(end, start + timedelta(days=1)),
                description=f"State: {release.state}. The pilot is accountable for the release.",
            )
        )
    return calendar(f"{project.display} releases", events, now)
