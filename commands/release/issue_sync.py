"""The release issue on GitHub/GitLab: the checklist as boxes, kept in sync both ways.

Tower remembers the body it last wrote. When the issue differs from it, people ticked boxes on the
forge: for each manual item, whichever side changed since then wins (a three-way merge on the
ticks). Tower's own items are shown but cannot be ticked on the forge either.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from commands.engine import lookup
from commands.engine.ports import ForgeError
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.checklist import ItemView
from commands.rules.lifecycle import State
from commands.scope.readiness import ensure_checklist, items
from storage.queries import operations, releases, scope
from storage.tables import Release

log = logging.getLogger("tower.issues")
_BOX = re.compile(r"^\s*[-*] \[(?P<mark>[ xX])\] (?P<seq>\d+)\. ", re.MULTILINE)
LEASE = timedelta(minutes=2)


def render(project: ProjectSettings, release: Release, views: list[ItemView]) -> tuple[str, str]:
    name = f"{project.display} {release.version}" if release.version else f"{project.display} #{release.number}"
    lines = [
        f"Release checklist for **{name}**, kept in sync by Tower. Tick boxes here or in chat; "
        "items marked (Tower) tick themselves.",
        "",
    ]
    for item in views:
        step = f" — before {item.before}" if item.before else ""
        text = f"~~{item.text}~~" if item.void else item.text
        void = f" ({item.void})" if item.void else ""
        lines.append(
            f"- [{'x' if item.checked else ' '}] {item.seq}. {text}{' (Tower)' if item.auto else ''}{step}{void}"
        )
    return f"Release {name}", "\n".join(lines) + "\n"


def ticks(body: str | None) -> dict[int, bool]:
    return {int(m.group("seq")): m.group("mark") != " " for m in _BOX.finditer((body or "").replace("\r\n", "\n"))}


async def sync_release_issues(svc: Services) -> int:
    """Open missing release issues and bring boxes in line. Returns how many issues were written."""
    written, found = 0, []
    # Like the tick's steps: a database that is away is one line for the operator, not a traceback.
    async with svc.failures.isolated("issue sync", "*"), svc.db.read() as session:
        open_states = [s.value for s in State if s.is_open]
        found = await releases.listing(session, states=open_states, limit=10_000)
    for release, project_row in found:
        project = svc.settings.project(project_row.key)
        if project is None or project.forge == "local":
            continue
        async with svc.failures.isolated("issue sync", project.key):
            try:
                written += await _sync_one(svc, project, release.id)
            except ForgeError as err:
                log.warning("release issue of %s#%s: %s", project.key, release.number, err)
    return written


async def _sync_one(svc: Services, project: ProjectSettings, release_id: int) -> int:
    forge, now = svc.forges.for_project(project), svc.clock.now()
    async with svc.db.write() as session:
        release = await lookup.release_by_id(session, release_id)
        await ensure_checklist(session, project, release)
        title, body = render(project, release, await items(session, project, release))
        if release.issue_number is None:
            op = await operations.start(
                session,
                key=f"release:{release.id}:issue",
                kind="issue",
                release_id=release.id,
                payload="{}",
                now=now,
                lease=LEASE,
            )
            if op is None:
                return 0
    if release.issue_number is None:
        issue = await forge.create_issue(title, body)
        async with svc.db.write() as session:
            if issue is not None:
                await releases.set_issue(session, release_id, issue.number, issue.url, body)
            await operations.finish(session, f"release:{release_id}:issue", str(issue.number if issue else "none"), now)
        return int(issue is not None)
    issue = await forge.get_issue(release.issue_number)
    if issue is None:
        return 0  # deleted on the forge: Tower's checklist carries on alone
    if issue.body.replace("\r\n", "\n") != (release.issue_body or ""):
        await _take_forge_ticks(svc, project, release, ticks(release.issue_body), ticks(issue.body))
        async with svc.db.read() as session:
            title, body = render(project, release, await items(session, project, release))
    if (title, body) == (issue.title, issue.body.replace("\r\n", "\n")) and body == release.issue_body:
        return 0
    await forge.update_issue(issue.number, title, body)
    async with svc.db.write() as session:
        await releases.set_issue(session, release_id, issue.number, issue.url, body)
    return 1


async def _take_forge_ticks(
    svc: Services, project: ProjectSettings, release: Release, base: dict[int, bool], theirs: dict[int, bool]
) -> None:
    now = svc.clock.now()
    async with svc.db.write() as session:
        for item in await scope.checklist(session, release.id):
            if item.auto or item.seq not in theirs or theirs[item.seq] == base.get(item.seq):
                continue  # Tower's own, not on the forge, or not changed there
            if await scope.set_checked(session, item.id, theirs[item.seq], now=now, person_id=None, via="forge"):
                log.info(
                    "%s: item %s %s on the forge",
                    lookup.name(project.key, release),
                    item.seq,
                    "ticked" if theirs[item.seq] else "unticked",
                )
