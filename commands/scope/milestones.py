"""Whether a release's dated milestones are met, and the countdown that follows from it."""

from __future__ import annotations

from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.rules.calendar_days import countdown
from storage.queries import candidates, scope
from storage.tables import Candidate, Milestone, Release


def met_by(release: Release, milestone: Milestone | str, cut: list[Candidate]) -> bool:
    """A milestone is met once its candidate (or a later one) is cut; `final` once the release shipped."""
    name = milestone if isinstance(milestone, str) else milestone.name
    if name == "final":
        return release.state in ("released", "retired")
    if name == "boot":
        return any(c.kind == "boot" for c in cut)
    number = int(name[2:])
    return any(c.rc is not None and c.rc >= number for c in cut)


async def cut_of(session: AsyncSession, release: Release) -> list[Candidate]:
    return await candidates.of_release(session, release.id, states=("cut", "deployed", "failed"))


async def countdown_of(session: AsyncSession, release: Release, today: date) -> str | None:
    """ "rc1: 3 days late, final in 20 days": a milestone that passed unmet stays, as late, until it is
    cut or planned again."""
    planned = await scope.milestones(session, release.id)
    cut = await cut_of(session, release)
    met = {m.name for m in planned if met_by(release, m, cut)}
    return countdown([(m.name, m.due) for m in planned], today, met)
