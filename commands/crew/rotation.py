"""/rotation: the roster, crews chosen by the rotation rule, opting out, jump seats, time away."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from commands.crew.handover import ROLE_NAMES, answer, display, jumpseat, leave_jump_seat, lock_seats, optout
from commands.crew.seats import (
    CrewNow,
    away_reasons,
    choose,
    crew_of,
    forecast_after,
    person_id,
    roster_order,
)
from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, UsageError
from commands.engine.reply import Field, Reply
from commands.engine.roles import ANYONE, MEMBERS, RELEASE_MANAGERS, Role
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.calendar_days import local_day
from commands.rules.lifecycle import State
from commands.rules.rotation import NoCrew, Pick
from storage.queries import crew as stored
from storage.queries import directory


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
        away_today = await stored.away_on(session, local_day(now, project.timezone))
        picks = await forecast_after(session, project, proj.id, 3, now)
    sections = []
    if crews:
        # Who flies now: a pilot away today has the co-pilot acting, as pages and the status card say.
        lines = []
        for rel, c in crews:
            crew = CrewNow(pilot=c.get("pilot"), copilot=c.get("copilot"))
            crew.note_away(away_today)
            lines.append(f"{lookup.name(project.key, rel)} ({rel.state}): {crew.describe()}")
        sections.append("Crews:\n" + "\n".join(lines))
    away = away_reasons(away_today)
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
            await _tell(session, inv, project, f"{inv.member.display} joined the {project.key} roster.", now)
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
        await _tell(session, inv, project, f"{inv.member.display} left the {project.key} roster.", now)
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
        await lock_seats(session, rel.id)
        title = lookup.name(proj.key, rel)
        if not State(rel.state).is_open:
            raise Conflict(f"{title} is {rel.state}; its crew is history.")
        current = await crew_of(session, rel.id)
        if current.pilot and current.copilot and not by_hand:
            raise Conflict(
                f"{title} already has a crew: pilot {current.pilot}, co-pilot {current.copilot}.",
                "Change it with `--pilot`/`--copilot`, or a crew member can `/rotation optout`.",
            )
        chosen, pick = await _crew_to_seat(session, project, proj.id, rel, title, current, by_hand, now)
        actor = await audit.actor_id(session, inv)
        for seat, _ in await stored.seats(session, rel.id, states=(stored.ACTIVE, stored.PROPOSED)):
            if seat.role in ("pilot", "copilot"):
                await stored.end_seat(session, seat.id, seat.state, "vacated", now, note="reassigned")
        for role in ("pilot", "copilot"):
            await leave_jump_seat(session, rel.id, chosen[role], role, now)
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
            text=f"Crew for {title}: pilot {display(svc, chosen['pilot'])}, "
            f"co-pilot {display(svc, chosen['copilot'])}.",
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


async def _crew_to_seat(
    session, project: ProjectSettings, project_id: int, rel, title: str, current: CrewNow, by_hand: dict, now
) -> tuple[dict[str, str], Pick | None]:
    """Who takes each seat: those given by hand; for a seat not given, its current holder stays (a
    person holds one seat), else the rotation rule chooses."""
    kept = {r: h for r in ("pilot", "copilot") if r not in by_hand and (h := getattr(current, r)) is not None}
    for role, handle in by_hand.items():
        other = "copilot" if role == "pilot" else "pilot"
        if kept.get(other) == handle:
            raise UsageError(
                f"{handle} is the {ROLE_NAMES[other]} of {title}, and a person holds one seat.",
                "Give both seats: `--pilot PERSON --copilot PERSON`.",
            )
    if len(by_hand) + len(kept) == 2:
        chosen = {**kept, **by_hand}
        pick = None
    else:
        try:
            pick = await choose(session, project, project_id, rel, now)
        except NoCrew as err:
            if len(by_hand) + len(kept) < 2:
                raise Conflict(
                    str(err), "Add people with `/rotation join`, or choose with `--pilot` and `--copilot`."
                ) from None
            raise
        rule = {"pilot": pick.crew.pilot, "copilot": pick.crew.copilot}
        chosen = {**rule, **kept, **by_hand}
        for role in ("pilot", "copilot"):
            other = "copilot" if role == "pilot" else "pilot"
            if role not in by_hand and role not in kept and chosen[role] == chosen[other]:
                chosen[role] = rule[other]  # the rule put the by-hand person here: take its choice for their seat
    if chosen["pilot"] == chosen["copilot"]:
        raise UsageError(f"{chosen['pilot']} cannot be both pilot and co-pilot.")
    return chosen, pick


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
        me = await person_id(session, inv.member.handle)
        await stored.add_away(session, me, first, last, now)
        await audit.record(session, inv, "rotation.away", now, detail=f"{first}..{last}")
        for project in svc.settings.projects.values():  # the teams whose rotation skips them
            proj = await directory.project_by_key(session, project.key)
            if proj is not None and any(person.id == me for _, person in await stored.roster(session, proj.id)):
                text = (
                    f"{inv.member.display} is away from {first} to {last}; the {project.key} rotation skips them then."
                )
                await _tell(session, inv, project, text, now)
    return Reply(text=f"{inv.member.display} is away from {first} to {last}; the rotation skips you then.")


async def _tell(session, inv: Invocation, project: ProjectSettings, text: str, now) -> None:
    """Roster changes reach the team channels too, like every other change (not where it was typed)."""
    note = Reply(text=text, footer=f"`/rotation show {project.key}`")
    key = f"rotation:{project.key}:{inv.spec.name}:{inv.member.handle}:{now.isoformat()}"
    await outbox.post_many(session, project.channels.team, note, key=key, now=now, skip=inv.channel)


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
