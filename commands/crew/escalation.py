"""Escalating pages: who each step reaches, and taking steps exactly once.

A step is taken in one transaction that moves the page from step N to N+1 (only if it is still
open and still at N) and queues that step's messages in the outbox under keys unique to the page
and step. So however often the scheduler wakes, and whichever replica wakes, each step is queued
once; the courier delivers each message once; an acknowledgement closes the page and drops what
has not gone out yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.crew.seats import crew_today, direct_channels, previous_pilot
from commands.engine import audit, lookup, outbox
from commands.engine.reply import Button, Reply
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings, Settings
from commands.rules.calendar_days import local_day
from commands.rules.wording import plural
from storage.queries import crew as stored
from storage.queries import outbox as queued
from storage.queries import pages, releases
from storage.tables import Page, Release

ROLE_WORDS = {
    "pilot": "pilot",
    "copilot": "co-pilot",
    "previous-pilot": "previous release's pilot",
    "release-managers": "release managers",
}
# How a person is addressed in their page: one of the release managers is "a release manager".
PAGED_AS = {
    "pilot": "the pilot",
    "copilot": "the co-pilot",
    "previous-pilot": "the previous release's pilot",
    "release-managers": "a release manager",
}


@dataclass(frozen=True)
class Step:
    """The step a page takes: its number, the role, who it reaches (empty: nobody holds that role
    now) and why anyone was passed over on the way (away, or paged already in this round)."""

    number: int
    role: str
    people: list[str]
    passed: list[str] = field(default_factory=list)
    stand_in: bool = False  # the co-pilot, paged as the pilot who is away


@dataclass(frozen=True)
class Reach:
    people: list[str]
    notes: list[str] = field(default_factory=list)
    stand_in: bool = False


async def targets(
    session: AsyncSession, settings: Settings, project: ProjectSettings, release: Release, role: str, now: datetime
) -> Reach:
    """Who a role reaches now, and notes on who it passed over: the co-pilot stands in for a pilot
    who is away, and nobody away is paged as crew (the release managers are always reached)."""
    if role == "release-managers":
        return Reach(settings.release_managers(project.key))
    if role == "previous-pilot":
        handle = await previous_pilot(session, release.project_id, release.number)
        away = await stored.away_on(session, local_day(now, project.timezone))
        if handle is not None and handle in away:
            return Reach([], [f"the previous release's pilot {handle} is away until {away[handle].last_day}"])
        return Reach([handle] if handle else [])
    crew = await crew_today(session, project, release.id, now)
    if role == "pilot":
        acting = crew.acting
        if acting is not None and crew.pilot is not None and acting != crew.pilot:
            until = crew.away[crew.pilot]
            return Reach([acting], [f"{acting} acts for the pilot {crew.pilot}, away until {until}"], True)
        return Reach([crew.pilot] if crew.pilot else [])
    if crew.copilot is not None and crew.copilot in crew.away:
        return Reach([], [f"the co-pilot {crew.copilot} is away until {crew.away[crew.copilot]}"])
    return Reach([crew.copilot] if crew.copilot else [])


def step_role(project: ProjectSettings, step: int) -> str | None:
    """The role paged at a step (0-based), or None once the chain has run out."""
    chain = project.paging.steps
    if step < len(chain):
        return chain[step]
    return chain[step % len(chain)] if project.paging.repeat else None


def _dm_key(page_id: int, step: int, handle: str) -> str:
    return f"page:{page_id}:step:{step}:dm:{handle}"


async def paged_so_far(session: AsyncSession, page_id: int) -> dict[int, set[str]]:
    """Step -> the people the page's messages went to, read back from the outbox keys (the durable
    record of every step taken, whichever process took it)."""
    reached: dict[int, set[str]] = {}
    prefix = f"page:{page_id}:step:"
    for message in await queued.with_key_prefix(session, prefix):
        step, _, rest = message.key.removeprefix(prefix).partition(":")
        if rest.startswith("dm:"):
            reached.setdefault(int(step), set()).add(rest.removeprefix("dm:").partition("@")[0])
    return reached


async def resolve(
    session: AsyncSession, svc: Services, project: ProjectSettings, release: Release, page_id: int, step: int
) -> Step:
    """The step to take from `step` on. A step that reaches only people already paged in this round
    of the chain is skipped (the next one is taken at once) and the skip is noted; a new round pages
    everyone again."""
    now, length = svc.clock.now(), len(project.paging.steps)
    passed: list[str] = []
    reached = await paged_so_far(session, page_id)
    while True:
        role = step_role(project, step)
        assert role is not None, f"page #{page_id} has no step {step}"  # taken only while the chain has a role
        reach = await targets(session, svc.settings, project, release, role, now)
        people = reach.people
        passed += reach.notes
        earlier = {h for s in range(step - step % length, step) for h in reached.get(s, ())}
        again = [h for h in people if h in earlier]
        fresh = [h for h in people if h not in earlier]
        if people and not fresh and step_role(project, step + 1) is not None:
            passed.append(f"skipped step {step + 1}: the {ROLE_WORDS[role]}, {', '.join(again)}, was paged already")
            step += 1
            continue
        if again:
            passed.append(f"the {ROLE_WORDS[role]} {', '.join(again)} was paged already")
        return Step(step, role, fresh, passed, reach.stand_in)


async def deliver(
    session: AsyncSession,
    svc: Services,
    project: ProjectSettings,
    release: Release,
    title: str,
    page: Page,
    step: Step,
    now: datetime,
) -> Step:
    """Queue one step's messages: a direct message to each person, a mention in the team channels,
    and an entry in the release's log (the page's history, skips included)."""
    ack = Button("Acknowledge", f"/ack {page.id}", "primary")
    text = f"Page #{page.id} for {title}: {page.message}"
    paged_as = "the acting pilot" if step.stand_in else PAGED_AS[step.role]
    for handle in step.people:
        person = svc.settings.people.get(handle)
        if person is None:
            continue
        note = Reply(text=text, mentions=[handle], buttons=[ack], footer=f"You are paged as {paged_as}.")
        for channel in direct_channels(person, project):
            await outbox.post(session, channel, note, key=_dm_key(page.id, step.number, handle), now=now)
    word = ROLE_WORDS[step.role]
    reached = ", ".join(step.people) if step.people else f"nobody (no {word})"
    skipped = f" ({'; '.join(step.passed)})" if step.passed else ""
    team = Reply(
        text=f"{text} — paging the {word}: {reached}{skipped}.",
        ok=False,
        mentions=step.people,
        buttons=[ack],
        footer=f"Step {step.number + 1}; unacknowledged pages escalate every {_minutes(project)}.",
    )
    await outbox.post_many(session, project.channels.team, team, key=f"page:{page.id}:step:{step.number}:team", now=now)
    if step.number == 0:
        for channel in pager_channels(project):
            await outbox.post(
                session,
                channel,
                Reply(text=text, meta={"event": "trigger", "page": page.id, "release": title}),
                key=f"page:{page.id}:step:0:pager",
                now=now,
            )
    await audit.record_event(
        session,
        "page.step",
        now,
        source="escalation",
        project_id=release.project_id,
        release_id=release.id,
        detail=f"page #{page.id} step {step.number + 1}: the {word}, {reached}{skipped}",
    )
    return step


async def fyi(
    session: AsyncSession,
    svc: Services,
    project: ProjectSettings,
    release: Release,
    title: str,
    page: Page,
    now: datetime,
) -> None:
    """Jump-seat observers learn of the page, once."""
    crew = await crew_today(session, project, release.id, now)
    for handle in crew.jumpseats or []:
        person = svc.settings.people.get(handle)
        if person is None:
            continue
        note = Reply(
            text=f"FYI: page #{page.id} for {title}: {page.message}",
            footer="You are in the jump seat; no action needed.",
        )
        for channel in direct_channels(person, project):
            await outbox.post(session, channel, note, key=f"page:{page.id}:fyi:{handle}", now=now)


def pager_channels(project: ProjectSettings) -> list[str]:
    channels = [f"pagerduty:{project.key}"] if project.paging.pagerduty_routing_key_env else []
    return channels + ([f"pager-webhook:{project.key}"] if project.paging.webhook_url else [])


def next_due(project: ProjectSettings, step: int, now: datetime) -> datetime | None:
    """When the step after `step` is due, or None when the chain has run out."""
    if step_role(project, step + 1) is None:
        return None
    return now + timedelta(minutes=project.paging.escalate_after_minutes)


def _minutes(project: ProjectSettings) -> str:
    minutes = project.paging.escalate_after_minutes
    return plural(minutes, "minute") if minutes != 1 else "minute"


async def escalate_due(svc: Services) -> int:
    """Take every step that is due. Safe to run anywhere, any number of times: returns steps taken."""
    now = svc.clock.now()
    async with svc.db.read() as session:
        due = await pages.due(session, now)
    taken = 0
    for page in due:
        async with svc.db.read() as session:
            key = await releases.project_key_of(session, page.release_id)
        async with svc.failures.isolated("escalation", key):
            taken += await _take_step(svc, page, now)
    return taken


async def _take_step(svc: Services, page: Page, now: datetime) -> int:
    """One escalation step, in one transaction: 1 if this worker took it."""
    async with svc.db.write() as session:
        release = await lookup.release_by_id(session, page.release_id)
        project_row = await lookup.project_of(session, release)
        project = svc.settings.project(project_row.key)
        if project is None:
            return 0  # the project left config; its pages stay as they are
        step = await resolve(session, svc, project, release, page.id, page.step + 1)
        if not await pages.advance(session, page.id, page.step, next_due(project, step.number, now), step.number):
            return 0  # acknowledged, or another worker took this step
        title = lookup.name(project.key, release)
        await deliver(session, svc, project, release, title, page, step, now)
        if not step.people and next_due(project, step.number, now) is not None:
            await pages.reschedule(session, page.id, now)  # an empty seat: go straight on
        return 1
