"""The announcements that went out, newest first: for the Atom feed."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import Announcement, Project, Release


async def recent(session: AsyncSession, now, limit: int = 50) -> list[dict]:
    query = (
        select(Announcement, Release, Project)
        .join(Release, col(Release.id) == Announcement.release_id)
        .join(Project, col(Project.id) == Release.project_id)
        .where(col(Announcement.post_at) <= now)
        .order_by(col(Announcement.post_at).desc())
        .limit(limit)
    )
    return [
        {
            "id": f"tag:tower,{a.created_at:%Y}:announcement:{a.id}",
            "title": f"{p.display_name or p.key} {r.version}",
            "text": a.text,
            "at": a.post_at,
            "project": p.key,
            "version": r.version,
        }
        for a, r, p in (await session.exec(query)).all()
    ]
