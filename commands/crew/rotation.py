"""/rotation: the roster, crews chosen by the rotation rule, opting out, jump seats, time away."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from commands.crew.seats import (
    OPTED_OUT,
    choose,
    crew_of,
    direct_channels,
    forecast_after,
    history_before,
    person_id,
    roster_order,
    unavailable,
)
from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotAllowed, UsageError
from commands.engine.reply import Button, Field, Reply
from commands.engine.roles import ANYONE, MEMBERS, RELEASE_MANAGERS, Role
from commands.engine.services import Services
from commands.engine.settings import PersonSettings, ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.lifecycle import State
from commands.rules.rotation import NoCrew, rested_order
from storage.queries import crew as stored
from storage.queries import directory

ROLE_NAMES = {"pilot": "pilot", "copilot": "co-pilot", "jumpseat": "jump seat"}


def _project(inv: Invocation, svc: Services) -> ProjectSettings:
    project = inv.args.get("project")
    if project is not None:
        return project
    if len(svc.settings.projects) == 1:
        return next(iter(svc.settings.projects.values()))
    raise UsageError("Which project?", f"Name one: {', '.join(svc.settings.projects)}.")


async def show(inv: Invocation, svc: Services) -> Reply:
    project = _project(inv, svc)
    now = svc.clock.now()
    async with svc.db.read() as session:
        proj = await directory.project_by_key(session, project.key)
        if proj is None:
            return Reply(text=f"{project.key} has no roster yet.", footer=f"`/rotation join {project.key}` joins it.")
        order = await roster_order(session, proj.id)
        crews = [(rel, c) for rel, c in await stored.crews(session, proj.id) if State(rel.state).is_open]
        away = await unavailable(session, project, None, now)
        picks = await forecast_after(session, project, proj.id, 3, now)
    sections = []
    if crews:
        sections.append(
            "Crews:\n"
            + "\n".join(
                f"{lookup.name(project.key, rel)} ({rel.state}): "
                f"pilot {c.get('pilot', '—')}, co-pilot {c.get('copilot', '—')}"
                for rel, c in crews
            )
        )
    roster_lines = [f"{i}. {h}" + (f" — {away[h]}" if h in away else "") for i, h in enumerate(order, 1)]
    sections.append("Roster, in the order they joined:\n" + ("\n".join(roster_lines) or "(empty)"))
    if picks:
        sections.append(
            "Next crews if nothing changes:\n"
            + "\n".join(f"{p.crew.pilot} (pilot), {p.crew.copilot} (co-pilot) — {p.kind}" for p in picks)
        )
    return Reply(text=f"Rotation of {project.key}", sections=sections)


async def join(inv: Invocation, svc: Services) -> Reply:
    project, now = _project(inv, svc), svc.clock.now()
    try:
        async with svc.db.write() as session:
            proj = await lookup.project_row(session, project, now)
            await stored.join(session, proj.id, await person_id(session, inv.member.handle), now, source="chat")
            await audit.record(session, inv, "rotation.join", now, project_id=proj.id)
            position = len(await stored.roster(session, proj.id))
    except IntegrityError:
        raise Conflict(f"You are on the {project.key} roster already.") from None
    return Reply(
        text=f"{inv.member.display} joined the {project.key} roster (number {position}).",
        footer="Newcomers enter as co-pilot when their turn comes.",
    )


async def leave(inv: Invocation, svc: Services) -> Reply:
    project, now = _project(inv, svc), svc.clock.now()
    async with svc.db.write() as session:
        proj = await lookup.project_row(session, project, now)
        if not await stored.leave(session, proj.id, await person_id(session, inv.member.handle), now):
            raise Conflict(f"You are not on the {project.key} roster.")
        await audit.record(session, inv, "rotation.leave", now, project_id=proj.id)
    return Reply(
        text=f"{inv.member.display} left the {project.key} roster.",
        footer="Seats you hold in open releases stay yours; `/rotation optout` frees one.",
    )


async def assign(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project, now = ref.project, svc.clock.now()
    by_hand = {role: inv.args[role].handle for role in ("pilot", "copilot") if inv.args.get(role)}
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        if not State(rel.state).is_open:
            raise Conflict(f"{title} is {rel.state}; its crew is history.")
        current = await crew_of(session, rel.id)
        if current.pilot and current.copilot and not by_hand:
            raise Conflict(
                f"{title} already has a crew: pilot {current.pilot}, co-pilot {current.copilot}.",
                "Change it with `--pilot`/`--copilot`, or a crew member can `/rotation optout`.",
            )
        try:
            pick = await choose(session, project, proj.id, rel, now)
        except NoCrew as err:
            if len(by_hand) < 2:
                raise Conflict(
                    str(err), "Add people with `/rotation join`, or choose with `--pilot` and `--copilot`."
                ) from None
            pick = None
        chosen = {"pilot": pick.crew.pilot if pick else None, "copilot": pick.crew.copilot if pick else None, **by_hand}
        if chosen["pilot"] == chosen["copilot"]:
            raise UsageError(f"{chosen['pilot']} cannot be both pilot and co-pilot.")
        actor = await audit.actor_id(session, inv)
        for seat, _ in await stored.seats(session, rel.id, states=(stored.ACTIVE, stored.PROPOSED)):
            if seat.role in ("pilot", "copilot"):
                await stored.end_seat(session, seat.id, seat.state, "vacated", now, note="reassigned")
        for role in ("pilot", "copilot"):
            await stored.add_seat(
                session,
                release_id=rel.id,
                person_id=await person_id(session, chosen[role]),
                role=role,
                state=stored.ACTIVE,
                now=now,
                assigned_by_id=actor,
                note="by hand" if role in by_hand else None,
            )
        how = "by hand" if by_hand else (pick.kind if pick else "")
        skipped = "; ".join(f"skipped {s.person}: {s.why}" for s in pick.skipped) if pick else ""
        detail = f"pilot {chosen['pilot']}, co-pilot {chosen['copilot']} ({how})" + (f"; {skipped}" if skipped else "")
        await audit.record(
            session, inv, "rotation.assign", now, project_id=proj.id, release_id=rel.id, detail=detail, person_id=actor
        )
        note = Reply(
            text=f"Crew for {title}: pilot {_display(svc, chosen['pilot'])}, "
            f"co-pilot {_display(svc, chosen['copilot'])}.",
            mentions=[chosen["pilot"], chosen["copilot"]],
            footer=f"`/release status {lookup.ref_text(proj.key, rel)}`",
        )
        await outbox.post_many(
            session,
            project.channels.team,
            note,
            key=f"release:{rel.id}:crew:{now.isoformat()}",
            now=now,
            skip=inv.channel,
        )
    fields = [Field("Pilot", chosen["pilot"]), Field("Co-pilot", chosen["copilot"]), Field("How", how)]
    reply = Reply(text=f"Crew for {title}: pilot {chosen['pilot']}, co-pilot {chosen['copilot']}.", fields=fields)
    if skipped:
        reply.sections.append(skipped[0].upper() + skipped[1:] + ".")
    return reply


async def optout(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project, now, me = ref.project, svc.clock.now(), inv.member.handle
    wanted: PersonSettings | None = inv.args.get("replacement")
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        seat = await _seat_of(session, rel.id, me, stored.ACTIVE)
        if seat is None:
            raise NotAllowed(f"You hold no seat in {title}.")
        await stored.end_seat(session, seat.id, stored.ACTIVE, "vacated", now, note=OPTED_OUT)
        if seat.role == "jumpseat":
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
        key = f"release:{rel.id}:optout:{seat.id}"
        if replacement is None:
            text = (
                f"{_display(svc, me)} stepped out of {title} ({role}) and nobody else is available: the seat is empty."
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
        await stored.add_seat(
            session,
            release_id=rel.id,
            person_id=await person_id(session, replacement),
            role=seat.role,
            state=stored.PROPOSED,
            now=now,
            assigned_by_id=actor,
            note=f"replacing {me}",
        )
        await _ask(session, svc, project, rel, title, replacement, role, key, now)
        await _tell(
            session,
            project,
            Reply(
                text=f"{_display(svc, me)} stepped out of {title} ({role}); "
                f"Tower asked {_display(svc, replacement)} to take the seat."
            ),
            key,
            now,
        )
    return Reply(text=f"You stepped out of {title}. {replacement} has been asked to take the {role} seat.")


async def _seat_of(session, release_id: int, handle: str, state: str):
    return next(
        (seat for seat, person in await stored.seats(session, release_id, states=(state,)) if person.handle == handle),
        None,
    )


async def _next_eligible(session, project, project_id, rel, now) -> str | None:
    current = await crew_of(session, rel.id)
    busy = {current.pilot, current.copilot, *current.proposed.values()}
    away = await unavailable(session, project, rel.id, now)
    order = rested_order(await roster_order(session, project_id), await history_before(session, project_id, rel.number))
    return next((h for h in order if h not in busy and h not in away), None)


async def _ask(session, svc: Services, project, rel, title: str, handle: str, role: str, key: str, now) -> None:
    ref = lookup.ref_text(project.key, rel)
    ask = Reply(
        text=f"Will you take the {role} seat of {title}?",
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
        title = lookup.name(proj.key, rel)
        seat = await _seat_of(session, rel.id, me, stored.PROPOSED)
        if seat is None:
            raise Conflict(f"Nobody asked you to take a seat in {title}.")
        role = ROLE_NAMES[seat.role]
        key = f"release:{rel.id}:seat:{seat.id}"
        if accepting:
            try:
                await stored.activate_seat(session, seat.id)
            except IntegrityError:
                raise Conflict(f"The {role} seat of {title} was filled meanwhile.") from None
            await audit.record(session, inv, "rotation.accept", now, project_id=proj.id, release_id=rel.id, detail=role)
            await _tell(session, project, Reply(text=f"{_display(svc, me)} took the {role} seat of {title}."), key, now)
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
            await stored.add_seat(
                session,
                release_id=rel.id,
                person_id=await person_id(session, replacement),
                role=seat.role,
                state=stored.PROPOSED,
                now=now,
                assigned_by_id=None,
                note=f"after {me} declined",
            )
            await _ask(session, svc, project, rel, title, replacement, role, key, now)
        follow = f"Tower asked {replacement} next." if replacement else "Nobody else is available: the seat is empty."
        await _tell(
            session, project, Reply(text=f"{_display(svc, me)} declined the {role} seat of {title}. {follow}"), key, now
        )
    return Reply(text=f"You declined the {role} seat of {title}. {follow}")


async def jumpseat(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    now = svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        current = await crew_of(session, rel.id)
        if inv.member.handle in (current.jumpseats or []) or current.has(inv.member.handle):
            raise Conflict(f"You are already aboard {title}.")
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
    return Reply(
        text=f"You are in the jump seat of {title}: you will see everything, get copies of its pages, "
        "and change nothing."
    )


async def away(inv: Invocation, svc: Services) -> Reply:
    first, last = inv.args["from"], inv.args["to"]
    if last < first:
        raise UsageError(
            f"{last} is before {first}.", "Write the first day, then the last: `/rotation away 2026-12-20 2027-01-02`."
        )
    if last - first > timedelta(days=366):
        raise UsageError("That is more than a year away.", "Leave the roster instead: `/rotation leave`.")
    now = svc.clock.now()
    async with svc.db.write() as session:
        await stored.add_away(session, await person_id(session, inv.member.handle), first, last, now)
        await audit.record(session, inv, "rotation.away", now, detail=f"{first}..{last}")
    return Reply(text=f"{inv.member.display} is away from {first} to {last}; the rotation skips you then.")


def _display(svc: Services, handle: str) -> str:
    person = svc.settings.people.get(handle)
    return person.display if person else handle


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)
_PROJECT = Option("project", Kind.PROJECT, "the project (optional with one project)", positional=True)
_ME = frozenset({Role.MEMBER})

COMMANDS = [
    CommandSpec(
        group="rotation",
        name="show",
        summary="crews of the open releases, the roster, and the next crews",
        example="/rotation show demo",
        handler=show,
        allowed=ANYONE,
        options=(_PROJECT,),
    ),
    CommandSpec(
        group="rotation",
        name="join",
        summary="join the roster",
        example="/rotation join demo",
        handler=join,
        mutates=True,
        allowed=MEMBERS,
        options=(_PROJECT,),
    ),
    CommandSpec(
        group="rotation",
        name="leave",
        summary="leave the roster",
        example="/rotation leave demo",
        handler=leave,
        mutates=True,
        allowed=MEMBERS,
        options=(_PROJECT,),
    ),
    CommandSpec(
        group="rotation",
        name="assign",
        summary="choose the crew by the rotation rule (or by hand)",
        example="/rotation assign demo",
        handler=assign,
        mutates=True,
        allowed=RELEASE_MANAGERS,
        options=(
            _RELEASE,
            Option("pilot", Kind.PERSON, "the pilot, by hand"),
            Option("copilot", Kind.PERSON, "the co-pilot, by hand"),
        ),
    ),
    CommandSpec(
        group="rotation",
        name="optout",
        summary="step out of a crew; Tower asks the next person to take the seat",
        example="/rotation optout demo",
        handler=optout,
        mutates=True,
        allowed=_ME,
        options=(_RELEASE, Option("replacement", Kind.PERSON, "who you would like to take your seat")),
    ),
    CommandSpec(
        group="rotation",
        name="accept",
        summary="take the seat Tower asked you to take",
        example="/rotation accept demo",
        handler=answer,
        mutates=True,
        allowed=_ME,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="rotation",
        name="decline",
        summary="decline the seat Tower asked you to take",
        example="/rotation decline demo",
        handler=answer,
        mutates=True,
        allowed=_ME,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="rotation",
        name="jumpseat",
        summary="ride along as an observer",
        example="/rotation jumpseat demo",
        handler=jumpseat,
        mutates=True,
        allowed=_ME,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="rotation",
        name="away",
        summary="mark yourself unavailable from one day to another",
        example="/rotation away 2026-12-20 2027-01-02",
        handler=away,
        mutates=True,
        allowed=_ME,
        options=(
            Option("from", Kind.DATE, "the first day away", positional=True, required=True),
            Option("to", Kind.DATE, "the last day away", positional=True, required=True),
        ),
    ),
]
