"""Finding the rows a command is about, with refusals that say what exists instead."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.arguments import ReleaseRef
from commands.engine.errors import NotFound
from commands.engine.settings import ProjectSettings
from commands.rules.lifecycle import Action, State
from storage.queries import directory, releases
from storage.tables import Project, Release

OPEN_STATES = [s.value for s in State if s.is_open]


async def project_row(session: AsyncSession, project: ProjectSettings, now: datetime | None = None) -> Project:
    """The project's row; created on first use if config gained the project since start-up."""
    row = await directory.project_by_key(session, project.key)
    if row is None:
        if now is None:
            raise NotFound(
                f"Project `{project.key}` has no releases yet.", f"Open one with `/release new {project.key}`."
            )
        await directory.sync_projects(session, [(project.key, project.name)], now)
        row = await directory.project_by_key(session, project.key)
        assert row is not None
    return row


async def release(session: AsyncSession, ref: ReleaseRef) -> tuple[Project, Release]:
    key = ref.project.key
    # One statement: the project, and the release the reference names if there is one.
    proj, found = await releases.find(session, key, version=ref.version, number=ref.number, open_states=OPEN_STATES)
    if proj is not None and found is not None:  # a release is only looked for in a project that exists
        return proj, found
    if ref.version or ref.number is not None:
        raise NotFound(f"`{ref}` is not a release of {key}.", f"`/release list {key} --all` shows them all.")
    last = await releases.newest(session, proj.id) if proj is not None else None
    if last is None:
        raise NotFound(f"{key} has no open release.", f"Open one with `/release new {key}`.")
    shipped = await last_shipped(session, ref.project, last.project_id)
    if shipped is not None and shipped[0].id == last.id and last.version:
        raise NotFound(
            f"{key} has no open release; did you mean {ref_text(key, shipped[0])}?",
            f"`/release new {key}` opens the next one.",
        )
    raise NotFound(
        f"{key} has no open release; the last one, {name(key, last)}, is {last.state}.",
        f"Open a new one with `/release new {key}`, or see `/release status {key}#{last.number}`.",
    )


async def target(session: AsyncSession, ref: ReleaseRef, now: datetime) -> ReleaseRef:
    """What a bare PROJECT means: its newest open release (left to `release` to find), else the
    release that shipped last while its all-clear window lasts, by its version."""
    if ref.version or ref.number is not None:
        return ref
    proj = await directory.project_by_key(session, ref.project.key)
    if proj is None or await releases.newest_open(session, proj.id, OPEN_STATES) is not None:
        return ref
    shipped = await last_shipped(session, ref.project, proj.id)
    if shipped is None or now >= shipped[1] or not shipped[0].version:
        return ref
    return ReleaseRef(ref.project, version=shipped[0].version)


async def last_shipped(
    session: AsyncSession, project: ProjectSettings, project_id: int
) -> tuple[Release, datetime] | None:
    """The newest shipped release with the moment its all-clear window ends (past or not), if any."""
    shipped = await releases.moved_at(session, project_id, Action.SHIP.value)
    if not shipped:
        return None
    newest = max(shipped, key=lambda release_id: shipped[release_id])
    release = await releases.by_id(session, newest)
    assert release is not None, "a transition's release exists"
    return release, shipped[newest] + timedelta(days=project.all_clear_days)


async def release_by_id(session: AsyncSession, release_id: int) -> Release:
    """A release another row points at: its id is a foreign key, and releases are never deleted."""
    rel = await releases.by_id(session, release_id)
    assert rel is not None, f"release {release_id} is referenced but missing"
    return rel


async def project_of(session: AsyncSession, rel: Release) -> Project:
    """The project row of a release (a foreign key; projects are never deleted)."""
    proj = await directory.project_by_id(session, rel.project_id)
    assert proj is not None, f"project {rel.project_id} of release {rel.id} is missing"
    return proj


def version_of(rel: Release) -> str:
    """The version of a release past naming: naming sets it, and nothing unsets it."""
    assert rel.version is not None, f"release {rel.id} was expected to be named"
    return rel.version


def name(project_key: str, rel: Release) -> str:
    """How a release is called in replies: `demo 1.3.0`, or `demo#2` before it has a version."""
    return f"{project_key} {rel.version}" if rel.version else f"{project_key}#{rel.number}"


def ref_text(project_key: str, rel: Release) -> str:
    """How a user addresses it in a command."""
    return f"{project_key}@{rel.version}" if rel.version else f"{project_key}#{rel.number}"


def local_time(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z")


def local_date(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d")
