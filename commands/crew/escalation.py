"""Escalating pages: who each step reaches, and taking steps exactly once.

A step is taken in one transaction that moves the page from step N to N+1 (only if it is still
open and still at N) and queues that step's messages in the outbox under keys unique to the page
and step. So however often the scheduler wakes, and whichever replica wakes, each step is queued
once; the courier delivers each message once; an acknowledgement closes the page and drops what
has not gone out yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.crew.seats import crew_of, direct_channels, previous_pilot
from commands.engine import lookup, outbox
from commands.engine.reply import Button, Reply
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings, Settings
from storage.queries import pages, releases
from storage.tables import Page, Release

ROLE_WORDS = {
    "pilot": "pilot",
    "copilot": "co-pilot",
    "previous-pilot": "previous release's pilot",
    "release-managers": "release managers",
}


@dataclass(frozen=True)
class Step:
    role: str
    people: list[str]  # empty: nobody holds that role now


async def targets(
    session: AsyncSession, settings: Settings, project: ProjectSettings, release: Release, role: str
) -> list[str]:
    if role == "release-managers":
        return settings.release_managers(project.key)
    if role == "previous-pilot":
        handle = await previous_pilot(session, release.project_id, release.number)
        return [handle] if handle else []
    crew = await crew_of(session, release.id)
    handle = crew.pilot if role == "pilot" else crew.copilot
    return [handle] if handle else []


def step_role(project: ProjectSettings, step: int) -> str | None:
    """The role paged at a step (0-based), or None once the chain has run out."""
    chain = project.paging.steps
    if step < len(chain):
        return chain[step]
    return chain[step % len(chain)] if project.paging.repeat else None


async def deliver(
    session: AsyncSession,
    svc: Services,
    project: ProjectSettings,
    release: Release,
    title: str,
    page: Page,
    step: int,
    now: datetime,
) -> Step:
    """Queue one step's messages: a direct message to each person, a mention in the team channels."""
    role = step_role(project, step)
    # Steps are taken only when next_due scheduled them, which it does only while the chain has a role.
    assert role is not None, f"page #{page.id} has no step {step}"
    people = await targets(session, svc.settings, project, release, role)
    ack = Button("Acknowledge", f"/ack {page.id}", "primary")
    text = f"Page #{page.id} for {title}: {page.message}"
    for handle in people:
        person = svc.settings.people.get(handle)
        if person is None:
            continue
        note = Reply(text=text, mentions=[handle], buttons=[ack], footer=f"You are paged as the {ROLE_WORDS[role]}.")
        for channel in direct_channels(person, project):
            await outbox.post(session, channel, note, key=f"page:{page.id}:step:{step}:dm:{handle}", now=now)
    word = ROLE_WORDS[role]
    reached = ", ".join(people) if people else f"nobody (no {word})"
    team = Reply(
        text=f"{text} — paging the {word}: {reached}.",
        ok=False,
        mentions=people,
        buttons=[ack],
        footer=f"Step {step + 1}; unacknowledged pages escalate every {_minutes(project)}.",
    )
    await outbox.post_many(session, project.channels.team, team, key=f"page:{page.id}:step:{step}:team", now=now)
    if step == 0:
        for channel in pager_channels(project):
            await outbox.post(
                session,
                channel,
                Reply(text=text, meta={"event": "trigger", "page": page.id, "release": title}),
                key=f"page:{page.id}:step:0:pager",
                now=now,
            )
    return Step(role, people)


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
    crew = await crew_of(session, release.id)
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
    return f"{minutes:g} minutes" if minutes != 1 else "minute"


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
        step = page.step + 1
        if not await pages.advance(session, page.id, page.step, next_due(project, step, now)):
            return 0  # acknowledged, or another worker took this step
        title = f"{project.key} {release.version}" if release.version else f"{project.key}#{release.number}"
        reached = await deliver(session, svc, project, release, title, page, step, now)
        if not reached.people and next_due(project, step, now) is not None:
            await pages.reschedule(session, page.id, now)  # an empty seat: go straight on
        return 1
