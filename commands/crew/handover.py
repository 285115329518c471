"""Seats changing hands: opting out with a replacement, accepting or declining a seat, jump seats.

A person holds at most one seat in a release (pilot, co-pilot or jump seat): a replacement who
already flies it is refused, and someone in the jump seat who takes a crew seat leaves the jump
seat. Seat changes of one release take turns (a lock per release), so two at once cannot both pass
these checks.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from commands.crew.seats import (
    OPTED_OUT,
    crew_of,
    direct_channels,
    history_before,
    person_id,
    roster_order,
    unavailable,
)
from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotAllowed, UsageError
from commands.engine.outbox import tell_team
from commands.engine.reply import Button, Reply
from commands.engine.services import Services
from commands.engine.settings import PersonSettings, ProjectSettings
from commands.rules.lifecycle import State
from commands.rules.rotation import rested_order
from commands.rules.wording import plural
from storage.locks import hold_for_transaction
from storage.queries import crew as stored
from storage.tables import CrewSeat, Release

ROLE_NAMES = {"pilot": "pilot", "copilot": "co-pilot", "jumpseat": "jump seat"}


async def lock_seats(session: AsyncSession, release_id: int) -> None:
    await hold_for_transaction(session, f"release:{release_id}:seats")


async def seat_held(session: AsyncSession, release_id: int, handle: str) -> CrewSeat | None:
    """The seat `handle` holds or has been asked to take in the release, if any."""
    return next((seat for seat, person in await stored.seats(session, release_id) if person.handle == handle), None)


async def leave_jump_seat(session: AsyncSession, release_id: int, handle: str, role: str, now: datetime) -> None:
    """Taking a crew seat ends the person's jump seat: one seat each."""
    seat = await seat_held(session, release_id, handle)
    if seat is not None and seat.role == "jumpseat":
        await stored.end_seat(
            session, seat.id, stored.ACTIVE, "vacated", now, note=f"moved to the {ROLE_NAMES[role]} seat"
        )


async def optout(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project, now, me = ref.project, svc.clock.now(), inv.member.handle
    wanted: PersonSettings | None = inv.args.get("replacement")
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        await lock_seats(session, rel.id)
        title = lookup.name(proj.key, rel)
        seat = await _seat_of(session, rel.id, me, stored.ACTIVE)
        if seat is None:
            raise NotAllowed(f"You hold no seat in {title}.")
        if wanted is not None and seat.role != "jumpseat":
            await _check_replacement(session, rel, title, wanted.handle, me)
        await stored.end_seat(session, seat.id, stored.ACTIVE, "vacated", now, note=OPTED_OUT)
        key = f"release:{rel.id}:optout:{seat.id}"
        if seat.role == "jumpseat":
            await audit.record(
                session, inv, "rotation.optout", now, project_id=proj.id, release_id=rel.id, detail="jump seat"
            )
            await tell_team(
                session,
                inv,
                project,
                f"{inv.member.display} left the jump seat of {title}.",
                key=key,
                now=now,
                ref=lookup.ref_text(proj.key, rel),
            )
            return Reply(text=f"You left the jump seat of {title}.")
        replacement = wanted.handle if wanted else await _next_eligible(session, project, proj.id, rel, now)
        role = ROLE_NAMES[seat.role]
        actor = await audit.actor_id(session, inv)
        await audit.record(
            session,
            inv,
            "rotation.optout",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{me} left the {role} seat; proposed {replacement or 'nobody'}",
            person_id=actor,
        )
        if replacement is None:
            text = (
                f"{display(svc, me)} stepped out of {title} ({role}) and nobody else is available: the seat is empty."
            )
            await _tell(
                session,
                project,
                Reply(
                    text=text,
                    footer="Release managers: "
                    f"`/rotation assign {lookup.ref_text(proj.key, rel)} --{seat.role} PERSON`",
                ),
                key,
                now,
            )
            return Reply(text=text)
        await _propose(session, svc, project, rel, seat.role, replacement, actor, f"replacing {me}", key, now)
        await _tell(
            session,
            project,
            Reply(
                text=f"{display(svc, me)} stepped out of {title} ({role}); "
                f"Tower asked {display(svc, replacement)} to take the seat."
            ),
            key,
            now,
        )
    return Reply(text=f"You stepped out of {title}. {replacement} has been asked to take the {role} seat.")


async def _check_replacement(session: AsyncSession, rel: Release, title: str, handle: str, me: str) -> None:
    if handle == me:
        raise UsageError("You cannot replace yourself.", "Name someone else with `--replacement`, or leave it out.")
    held = await seat_held(session, rel.id, handle)
    if held is not None and held.role != "jumpseat":
        asked = " has been asked to be" if held.state == stored.PROPOSED else " is already"
        raise Conflict(
            f"{handle}{asked} the {ROLE_NAMES[held.role]} of {title}, and a person holds one seat.",
            "Name someone without a seat with `--replacement`, or leave it out and Tower asks the next in turn.",
        )


async def _seat_of(session: AsyncSession, release_id: int, handle: str, state: str) -> CrewSeat | None:
    return next(
        (seat for seat, person in await stored.seats(session, release_id, states=(state,)) if person.handle == handle),
        None,
    )


async def _next_eligible(session, project: ProjectSettings, project_id: int, rel: Release, now) -> str | None:
    current = await crew_of(session, rel.id)
    busy = {current.pilot, current.copilot, *current.proposed.values()}
    away = await unavailable(session, project, rel.id, now)
    order = rested_order(await roster_order(session, project_id), await history_before(session, project_id, rel.number))
    return next((h for h in order if h not in busy and h not in away), None)


async def _propose(
    session, svc: Services, project, rel: Release, seat: str, handle: str, by: int | None, note: str, key: str, now
) -> None:
    """Record the seat as proposed to `handle` and ask them, by direct message, to accept it."""
    await stored.add_seat(
        session,
        release_id=rel.id,
        person_id=await person_id(session, handle),
        role=seat,
        state=stored.PROPOSED,
        now=now,
        assigned_by_id=by,
        note=note,
    )
    ref = lookup.ref_text(project.key, rel)
    ask = Reply(
        text=f"Will you take the {ROLE_NAMES[seat]} seat of {lookup.name(project.key, rel)}?",
        mentions=[handle],
        buttons=[Button("Accept", f"/rotation accept {ref}", "primary"), Button("Decline", f"/rotation decline {ref}")],
    )
    for channel in direct_channels(svc.settings.people[handle], project):
        await outbox.post(session, channel, ask, key=f"{key}:ask:{handle}", now=now)


async def _tell(session, project: ProjectSettings, note: Reply, key: str, now) -> None:
    await outbox.post_many(session, project.channels.team, note, key=key, now=now)


async def answer(inv: Invocation, svc: Services) -> Reply:
    """/rotation accept and /rotation decline: the person asked to take a seat answers."""
    ref: ReleaseRef = inv.args["release"]
    accepting = inv.spec.name == "accept"
    project, now, me = ref.project, svc.clock.now(), inv.member.handle
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        await lock_seats(session, rel.id)
        title = lookup.name(proj.key, rel)
        seat = await _seat_of(session, rel.id, me, stored.PROPOSED)
        if seat is None:
            raise Conflict(f"Nobody asked you to take a seat in {title}.")
        role = ROLE_NAMES[seat.role]
        key = f"release:{rel.id}:seat:{seat.id}"
        if accepting:
            current = await crew_of(session, rel.id)
            other = "copilot" if seat.role == "pilot" else "pilot"
            if getattr(current, other) == me:
                raise Conflict(
                    f"You are the {ROLE_NAMES[other]} of {title}, and a person holds one seat.",
                    f"Decline this one (`/rotation decline {lookup.ref_text(proj.key, rel)}`).",
                )
            await leave_jump_seat(session, rel.id, me, seat.role, now)
            try:
                await stored.activate_seat(session, seat.id)
            except IntegrityError:
                raise Conflict(f"The {role} seat of {title} was filled meanwhile.") from None
            await audit.record(session, inv, "rotation.accept", now, project_id=proj.id, release_id=rel.id, detail=role)
            await _tell(session, project, Reply(text=f"{display(svc, me)} took the {role} seat of {title}."), key, now)
            return Reply(text=f"You are the {role} of {title}.")
        await stored.end_seat(session, seat.id, stored.PROPOSED, "declined", now)
        replacement = await _next_eligible(session, project, proj.id, rel, now)
        await audit.record(
            session,
            inv,
            "rotation.decline",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{role}; next asked: {replacement or 'nobody'}",
        )
        if replacement:
            await _propose(session, svc, project, rel, seat.role, replacement, None, f"after {me} declined", key, now)
        follow = f"Tower asked {replacement} next." if replacement else "Nobody else is available: the seat is empty."
        await _tell(
            session, project, Reply(text=f"{display(svc, me)} declined the {role} seat of {title}. {follow}"), key, now
        )
    return Reply(text=f"You declined the {role} seat of {title}. {follow}")


async def jumpseat(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project, now = ref.project, svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        await lock_seats(session, rel.id)
        title = lookup.name(proj.key, rel)
        if not State(rel.state).is_open:
            raise Conflict(f"{title} is {rel.state}; there is nothing left to ride along with.")
        current = await crew_of(session, rel.id)
        if inv.member.handle in current.jumpseats or current.has(inv.member.handle):
            raise Conflict(f"You are already aboard {title}.")
        if len(current.jumpseats) >= project.jump_seats:
            seats = plural(project.jump_seats, "jump seat") if project.jump_seats else "no jump seats"
            taken = f" taken by {', '.join(current.jumpseats)}" if current.jumpseats else ""
            raise Conflict(
                f"{title} has {seats}{':' if taken else '.'}{taken}{'.' if taken else ''}",
                "A rider leaves with `/rotation optout`; a release manager can raise `jump_seats` in tower.toml.",
            )
        await stored.add_seat(
            session,
            release_id=rel.id,
            person_id=await person_id(session, inv.member.handle),
            role="jumpseat",
            state=stored.ACTIVE,
            now=now,
            assigned_by_id=None,
        )
        await audit.record(session, inv, "rotation.jumpseat", now, project_id=proj.id, release_id=rel.id)
        await tell_team(
            session,
            inv,
            project,
            f"{inv.member.display} is riding along in the jump seat of {title}.",
            key=f"release:{rel.id}:jumpseat:{inv.member.handle}:{now.isoformat()}",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    return Reply(
        text=f"You are in the jump seat of {title}: you will see everything, get copies of its pages, "
        "and change nothing."
    )


def display(svc: Services, handle: str) -> str:
    person = svc.settings.people.get(handle)
    return person.display if person else handle
