"""/rc schedule: dated milestones, shown as a countdown, with reminders the day before and a
warning when one passes without its candidate (jobs take care of those: see reminders.py)."""

from __future__ import annotations

from commands.engine import audit, lookup
from commands.engine.context import Invocation
from commands.engine.errors import UsageError
from commands.engine.outbox import tell_team
from commands.engine.reply import Reply
from commands.engine.roles import PILOT_OR_MANAGER
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.calendar_days import local_day, valid_milestone
from commands.scope.milestones import countdown_of
from storage.queries import scope


async def schedule(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    name, due = inv.args["name"].lower(), inv.args["date"]
    if not valid_milestone(name):
        raise UsageError(f"`{name}` is not a milestone.", "Use `boot`, `rc1`, `rc2`, … or `final`.")
    today = local_day(now, ref.project.timezone)
    if due < today:
        raise UsageError(f"{due} is in the past (today is {today} in {ref.project.timezone}).")
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        person = await audit.actor_id(session, inv)
        _, before = await scope.schedule(session, release_id=rel.id, name=name, due=due, now=now, created_by_id=person)
        await audit.record(
            session,
            inv,
            "rc.schedule",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{name} {due}" + (f" (was {before})" if before else ""),
            person_id=person,
        )
        coming = await countdown_of(session, rel, today)
        moved = f" (moved from {before})" if before else ""
        await tell_team(
            session,
            inv,
            ref.project,
            f"{title}: {name} is planned for {due}{moved}.",
            key=f"milestone:{rel.id}:{name}:{due}",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    return Reply(
        text=f"Planned {name} of {title} for {due}{moved}.", footer=f"Countdown: {coming}." if coming else None
    )


COMMANDS = [
    CommandSpec(
        group="rc",
        name="schedule",
        summary="plan a dated milestone (boot, rc1, …, final), shown as a countdown",
        example="/rc schedule demo rc2 2026-12-03",
        handler=schedule,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("name", Kind.TEXT, "boot, rc1, rc2, …, or final", positional=True, required=True),
            Option("date", Kind.DATE, "the day it is due (YYYY-MM-DD)", positional=True, required=True),
        ),
    ),
]
