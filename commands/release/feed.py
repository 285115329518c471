"""What the Atom feed tells, newest first: releases shipped, announcements that went out, and
releases retired. Plain data; the XML is the web's business (bot/pages/feed.py)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine import lookup
from storage.queries import directory
from storage.tables import Announcement, Project, Release, Transition

# The transitions a reader of the feed wants to hear of, and how each is told.
MILESTONES = {"released": "shipped", "retired": "retired"}


async def recent(session: AsyncSession, now: datetime, limit: int = 50) -> list[dict]:
    """Entries: {key (unique and stable within this installation), kind, title, text, at, author,
    project, release (its number), version}."""
    entries = await _announcements(session, now, limit) + await _milestones(session, now, limit)
    entries.sort(key=lambda e: (e["at"], e["key"]), reverse=True)
    return entries[:limit]


async def _announcements(session: AsyncSession, now: datetime, limit: int) -> list[dict]:
    query = (
        select(Announcement, Release, Project)
        .join(Release, col(Release.id) == Announcement.release_id)
        .join(Project, col(Project.id) == Release.project_id)
        .where(col(Announcement.post_at) <= now)
        .order_by(col(Announcement.post_at).desc())
        .limit(limit)
    )
    rows = (await session.exec(query)).all()
    people = await directory.people_by_id(session, [a.created_by_id for a, _, _ in rows])
    return [
        _entry(f"announcement/{a.id}", "announcement", r, p, a.post_at, a.text, people.get(a.created_by_id or 0))
        for a, r, p in rows
    ]


async def _milestones(session: AsyncSession, now: datetime, limit: int) -> list[dict]:
    query = (
        select(Transition, Release, Project)
        .join(Release, col(Release.id) == Transition.release_id)
        .join(Project, col(Project.id) == Release.project_id)
        .where(col(Transition.to_state).in_(list(MILESTONES)), col(Transition.at) <= now)
        .order_by(col(Transition.at).desc())
        .limit(limit)
    )
    rows = (await session.exec(query)).all()
    people = await directory.people_by_id(session, [t.actor_id for t, _, _ in rows])
    entries = []
    for t, r, p in rows:
        what = MILESTONES[t.to_state]
        who = people.get(t.actor_id or 0)
        text = f"{lookup.name(p.key, r)} {what}" + (f" by {who.handle}" if who else "") + "."
        text += f" {t.reason}" if t.reason else ""
        entries.append(_entry(f"release/{r.id}/{what}", what, r, p, t.at, text, who))
    return entries


def _entry(key: str, kind: str, r: Release, p: Project, at: datetime, text: str, who) -> dict:
    name = f"{p.display_name or p.key} {r.version or f'#{r.number}'}"
    title = {"announcement": f"{name} announced", "shipped": f"{name} shipped", "retired": f"{name} retired"}[kind]
    return {
        "key": key,
        "kind": kind,
        "title": title,
        "text": text,
        "at": at,
        "author": (who.display_name or who.handle) if who else None,
        "project": p.key,
        "release": r.number,
        "version": r.version,
    }
