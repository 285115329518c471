"""A project's calendar: who flies which release and until when, and the dated milestones, so people
see their duty and the plan in their own calendar."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from commands.crew.duty import duty_ends, shipped_at
from commands.engine import lookup
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.ical import Event, calendar
from storage.queries import crew as stored
from storage.queries import directory, releases, scope

OPEN_DUTY = timedelta(days=30)  # an open release's duty shows this far ahead until it has dates
DAY = timedelta(days=1)


async def project_calendar(svc: Services, project: ProjectSettings) -> str:
    tz = ZoneInfo(project.timezone)
    now = svc.clock.now()
    today = now.astimezone(tz).date()
    events: list[Event] = []
    async with svc.db.read() as session:
        # UIDs carry this installation's id: another Tower's demo#1 is another event.
        installation = await directory.installation_uid(session)
        row = await directory.project_by_key(session, project.key)
        crews = {rel.id: seats for rel, seats in await stored.crews(session, row.id)} if row else {}
        shipped = await shipped_at(session, row.id) if row else {}
        listed = await releases.listing(session, project_id=row.id, limit=10_000) if row else []
        planned = {rel.id: await scope.milestones(session, rel.id) for rel, _ in listed}
    for release, _ in sorted(listed, key=lambda pair: pair[0].number):
        name = lookup.name(project.key, release)
        seats = crews.get(release.id)
        if seats:
            start = release.opened_at.astimezone(tz).date()
            ends = duty_ends(project, release, shipped.get(release.id))
            # All-day events end the day after their last day; an open release's duty runs on ahead.
            end = ends.astimezone(tz).date() + DAY if ends else max(today, start) + OPEN_DUTY
            crew = ", ".join(
                f"{word} {seats[role]}" for role, word in (("pilot", "pilot"), ("copilot", "co-pilot")) if role in seats
            )
            until = (
                f" The pilot is accountable until the all-clear, {lookup.local_time(ends, project.timezone)}."
                if release.id in shipped and ends
                else ""
            )
            events.append(
                Event(
                    uid=f"{project.key}-release-{release.id}-crew@{installation}",
                    summary=f"{name}: {crew}",
                    start=start,
                    end=max(end, start + DAY),
                    description=f"State: {release.state}.{until}",
                )
            )
        for milestone in planned[release.id]:
            events.append(_milestone(project.key, installation, name, milestone.id, milestone.name, milestone.due))
    return calendar(f"{project.display} releases", events, now)


def _milestone(key: str, installation: str, name: str, number: int, milestone: str, due: date) -> Event:
    return Event(
        uid=f"{key}-milestone-{number}@{installation}",
        summary=f"{name}: {milestone} due",
        start=due,
        end=due + DAY,
        description=f"{milestone} of {name}, planned with /rc schedule.",
    )
