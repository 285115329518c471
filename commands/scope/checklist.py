"""/checklist: the release checklist — what is done, by whom, and what blocks which step."""

from __future__ import annotations

from commands.engine import audit, lookup
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotFound
from commands.engine.outbox import tell_team
from commands.engine.reply import Reply
from commands.engine.roles import ANYONE, CREW
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.checklist import STEP_WORDS, STEPS, missing, void_reason
from commands.scope.readiness import ensure_checklist, items
from storage.queries import deploys, directory, scope


async def show(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        views = await items(session, ref.project, rel)
        stored = {i.seq: i for i in await scope.checklist(session, rel.id)}
        people = await directory.people_by_id(session, [i.checked_by_id for i in stored.values()])
    tz = ref.project.timezone
    lines = []
    for item in views:
        mark = "[x]" if item.checked else "[ ]"
        step = f" (before {item.before})" if item.before else ""
        if item.void:  # struck through: it belongs to a deployment that no longer counts
            lines.append(f"{mark} {item.seq}. ~{item.text}~{step} — {item.void}")
            continue
        who = ""
        row = stored.get(item.seq)
        if item.auto:
            who = " — Tower checks this" + (f": {item.note}" if item.note else "")
        elif row is not None and row.checked_at is not None:
            by = people[row.checked_by_id].handle if row.checked_by_id in people else row.checked_via or "someone"
            who = f" — {by}, {lookup.local_time(row.checked_at, tz)}"
        lines.append(f"{mark} {item.seq}. {item.text}{step}{who}")
    counted = [i for i in views if not i.void]
    done = sum(i.checked for i in counted)
    blocked = [
        f"{STEP_WORDS[s]} waits for {', '.join(str(i.seq) for i in missing(s, views))}"
        for s in STEPS
        if missing(s, views)
    ]
    return Reply(
        text=f"Checklist of {lookup.name(proj.key, rel)}: {done} of {len(counted)} done.",
        sections=["\n".join(lines)],
        footer=("; ".join(blocked) + ".").capitalize() if blocked else "Nothing blocks the next steps.",
    )


async def check(inv: Invocation, svc: Services) -> Reply:
    return await _tick(inv, svc, checked=True)


async def uncheck(inv: Invocation, svc: Services) -> Reply:
    return await _tick(inv, svc, checked=False)


async def _tick(inv: Invocation, svc: Services, checked: bool) -> Reply:
    ref, now, number = inv.args["release"], svc.clock.now(), inv.args["item"]
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        await ensure_checklist(session, ref.project, rel)
        item = next((i for i in await scope.checklist(session, rel.id) if i.seq == number), None)
        if item is None:
            raise NotFound(
                f"{lookup.name(proj.key, rel)} has no checklist item {number}.", f"`/checklist show {ref}` lists them."
            )
        if item.auto:
            raise Conflict(f"Item {number} ({item.text}) is ticked by Tower when it is true; nobody ticks it by hand.")
        if item.deployment_id is not None:
            gone = await deploys.by_id(session, item.deployment_id)
            void = void_reason(item.deployment_id, gone.state if gone else None)
            if void:
                raise Conflict(f"Item {number} ({item.text}) is {void}: it no longer counts, so nothing was changed.")
        person = await audit.actor_id(session, inv)
        if not await scope.set_checked(session, item.id, checked, now=now, person_id=person, via=inv.platform):
            raise Conflict(f"Item {number} is already {'ticked' if checked else 'unticked'}.")
        await audit.record(
            session,
            inv,
            "checklist.check" if checked else "checklist.uncheck",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{number}. {item.text}",
            person_id=person,
        )
        action = "check" if checked else "uncheck"
        await tell_team(
            session,
            inv,
            ref.project,
            f"{inv.member.display} {'ticked' if checked else 'unticked'} {number}. {item.text} "
            f"on the checklist of {lookup.name(proj.key, rel)}.",
            key=f"release:{rel.id}:checklist.{action}:{number}:{now.isoformat()}",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    verb = "Ticked" if checked else "Unticked"
    return Reply(text=f"{verb} {number}. {item.text} ({lookup.name(proj.key, rel)}).")


async def add(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        await ensure_checklist(session, ref.project, rel)
        item = await scope.add_item(
            session, release_id=rel.id, text=inv.args["text"], before=inv.args.get("before"), auto=None
        )
        await audit.record(
            session, inv, "checklist.add", now, project_id=proj.id, release_id=rel.id, detail=f"{item.seq}. {item.text}"
        )
        step = f", before {item.before}" if item.before else ""
        title = lookup.name(proj.key, rel)
        await tell_team(
            session,
            inv,
            ref.project,
            f"{inv.member.display} added item {item.seq} to the checklist of {title}: {item.text}{step}.",
            key=f"release:{rel.id}:checklist.add:{item.seq}",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    return Reply(text=f"Added item {item.seq} to the checklist of {title}: {item.text}{step}.")


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)
_ITEM = Option("item", Kind.INT, "the item's number", positional=True, required=True)

COMMANDS = [
    CommandSpec(
        group="checklist",
        name="show",
        summary="the release checklist: what is done, what blocks which step",
        example="/checklist show demo",
        handler=show,
        allowed=ANYONE,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="checklist",
        name="check",
        summary="tick an item",
        example="/checklist check demo 6",
        handler=check,
        mutates=True,
        allowed=CREW,
        options=(_RELEASE, _ITEM),
    ),
    CommandSpec(
        group="checklist",
        name="uncheck",
        summary="untick an item",
        example="/checklist uncheck demo 6",
        handler=uncheck,
        mutates=True,
        allowed=CREW,
        options=(_RELEASE, _ITEM),
    ),
    CommandSpec(
        group="checklist",
        name="add",
        summary="add an item, optionally blocking a step",
        example='/checklist add demo "Security review" --before ship',
        handler=add,
        mutates=True,
        allowed=CREW,
        options=(
            _RELEASE,
            Option("text", Kind.TEXT, "the item", positional=True, required=True, greedy=True),
            Option("before", Kind.CHOICE, "the step it blocks", choices=("rc", "deploy", "ship")),
        ),
    ),
]
