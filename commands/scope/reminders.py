"""Milestone reminders: the day before each (to the team, and to the crew before the first), and a
warning the day after one that passed without its candidate.

Nothing here is scheduled in memory. Each tick works out which reminders should have gone out by
now, in the project's local time, and queues them under keys unique to the milestone and its date:
the outbox refuses a key twice, so a reminder goes out once however often the ticks come, after a
restart, and across daylight-saving changes (09:00 is 09:00 local on both sides of one).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from commands.crew.seats import crew_of, direct_channels
from commands.engine import lookup, outbox
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.calendar_days import local_moment, milestone_order
from commands.rules.lifecycle import State
from commands.scope.milestones import cut_of, met_by
from storage.queries import releases, scope
from storage.tables import Milestone, Release

LATE_LIMIT = timedelta(days=7)  # a warning found more than this late (Tower was down) is dropped


async def send_due_reminders(svc: Services) -> int:
    now = svc.clock.now()
    queued = 0
    # Only releases with a milestone near today can have a reminder or a warning due: the window
    # (a day before, to LATE_LIMIT after, a day's margin each side for time zones) is an indexed range.
    today = now.date()
    async with svc.db.read() as session:
        found = await releases.with_milestones_between(
            session, today - LATE_LIMIT - timedelta(days=2), today + timedelta(days=2), _OPEN
        )
    for release, project_key in found:
        project = svc.settings.project(project_key)
        if project is None:
            continue
        async with svc.failures.isolated("reminders", project.key), svc.db.write() as session:
            planned = await scope.milestones(session, release.id)
            first = min(planned, key=lambda m: (m.due, milestone_order(m.name)), default=None)
            for milestone in planned:
                queued += await _remind(session, svc, project, release, milestone, milestone is first, now)
                queued += await _warn_if_missed(session, project, release, milestone, now)
    return queued


_OPEN = tuple(s.value for s in State if s.is_open)


async def _remind(
    session, svc: Services, project: ProjectSettings, release: Release, milestone: Milestone, first: bool, now: datetime
) -> int:
    at = local_moment(milestone.due - timedelta(days=1), project.reminder_time, project.timezone)
    if not at <= now < local_moment(milestone.due, "00:00", project.timezone):
        return 0  # not yet, or "tomorrow" is no longer true
    title = lookup.name(project.key, release)
    key = f"milestone:{milestone.id}:{milestone.due}"
    note = Reply(
        text=f"Tomorrow: {milestone.name} of {title} is due ({milestone.due:%A %Y-%m-%d}).",
        footer=f"`/release status {lookup.ref_text(project.key, release)}`",
    )
    sent = await outbox.post_many(session, project.channels.team, note, key=f"{key}:reminder", now=now)
    if first:
        crew = await crew_of(session, release.id)
        for role, handle in (("pilot", crew.pilot), ("co-pilot", crew.copilot)):
            person = svc.settings.people.get(handle) if handle else None
            if handle is None or person is None:
                continue
            duty = Reply(
                text=f"You are the {role} of {title}; its first milestone, {milestone.name}, is due tomorrow "
                f"({milestone.due:%A %Y-%m-%d}).",
                mentions=[handle],
            )
            for channel in direct_channels(person, project):
                sent += await outbox.post(session, channel, duty, key=f"{key}:crew:{handle}", now=now)
    return sent


async def _warn_if_missed(
    session, project: ProjectSettings, release: Release, milestone: Milestone, now: datetime
) -> int:
    at = local_moment(milestone.due + timedelta(days=1), project.reminder_time, project.timezone)
    if not at <= now < at + LATE_LIMIT or met_by(release, milestone, await cut_of(session, release)):
        return 0
    title = lookup.name(project.key, release)
    note = Reply(
        text=f"{milestone.name} of {title} was due {milestone.due:%A %Y-%m-%d} and has no candidate yet.",
        ok=False,
        footer=f"Cut it with `/rc cut {lookup.ref_text(project.key, release)}`, or move the date with `/rc schedule`.",
    )
    return await outbox.post_many(
        session, project.channels.team, note, key=f"milestone:{milestone.id}:{milestone.due}:missed", now=now
    )
