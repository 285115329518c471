"""/release: open, inspect, list and abort release cycles."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict
from commands.engine.reply import Button, Reply
from commands.engine.roles import ANYONE, PILOT_OR_MANAGER, RELEASE_MANAGERS
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.release.views import list_line, status_card
from commands.rules.lifecycle import Action, State, next_state
from commands.scope import readiness
from storage.queries import bundle, releases


async def new(inv: Invocation, svc: Services) -> Reply:
    project: ProjectSettings = inv.args["project"]
    now = svc.clock.now()
    try:
        async with svc.db.write() as session:
            proj = await lookup.project_row(session, project, now)
            planning = await releases.listing(session, project_id=proj.id, states=[State.PLANNING.value])
            if planning:
                rel = planning[0][0]
                naming = (
                    f"Name it with `/release name {project.key}`, or abort"
                    if svc.registry.has("release name")
                    else "Abort"
                )
                raise Conflict(
                    f"{project.key} already has a release in planning ({project.key}#{rel.number}).",
                    f"{naming} it first: `/release abort {project.key} --reason …`.",
                )
            person_id = await audit.actor_id(session, inv)
            rel = await releases.create(
                session,
                project_id=proj.id,
                state=State.PLANNING.value,
                action=Action.OPEN.value,
                opened_by_id=person_id,
                now=now,
            )
            await readiness.ensure_checklist(session, project, rel)
            await audit.record(
                session, inv, "release.new", now, project_id=proj.id, release_id=rel.id, person_id=person_id
            )
            await outbox.tell_team(
                session,
                inv,
                project,
                f"{_who(inv)} opened {project.key}#{rel.number} (planning).",
                key=f"release:{rel.id}:opened",
                now=now,
                ref=f"{project.key}#{rel.number}",
            )
    except IntegrityError:
        # Someone opened one in the same instant; theirs won.
        raise Conflict(
            f"Someone else opened a {project.key} release at the same moment.",
            f"See it with `/release status {project.key}`.",
        ) from None
    reply = Reply(
        text=f"Opened {project.key}#{rel.number} (planning).",
        buttons=[Button("Status", f"/release status {project.key}#{rel.number}")],
    )
    if svc.registry.has("release name"):
        reply.footer = f"Next: `/release name {project.key}` proposes the version from the changelog."
        reply.buttons.append(Button("Name the version", f"/release name {project.key}", "primary"))
    return reply


async def status(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef | None = inv.args.get("release")
    async with svc.db.read() as session:
        if ref is not None:
            _, rel = await lookup.release(session, ref)
            await bundle.preload(session, rel.id)
            return await status_card(
                session, ref.project, rel, svc.registry, svc.clock.now(), svc.settings.tower.public_url
            )
        open_ones = await releases.listing(session, states=lookup.OPEN_STATES)
        if len(open_ones) == 1:
            rel, proj = open_ones[0]
            await bundle.preload(session, rel.id)
            return await status_card(
                session,
                svc.settings.projects[proj.key],
                rel,
                svc.registry,
                svc.clock.now(),
                svc.settings.tower.public_url,
            )
    if not open_ones:
        first = next(iter(svc.settings.projects), "PROJECT")
        return Reply(text="No release is open.", footer=f"Open one with `/release new {first}`.")
    lines = [list_line(p.key, r, _tz(svc, p.key)) for r, p in open_ones]
    return Reply(
        text=f"{len(open_ones)} releases are open:",
        sections=["\n".join(lines)],
        footer="`/release status PROJECT` shows one in detail.",
    )


async def list_(inv: Invocation, svc: Services) -> Reply:
    project: ProjectSettings | None = inv.args.get("project")
    show_all = bool(inv.args.get("all"))
    async with svc.db.read() as session:
        proj = await lookup.project_row(session, project) if project else None
        rows = await releases.listing(
            session, project_id=proj.id if proj else None, states=None if show_all else lookup.OPEN_STATES
        )
    where = f" of {project.key}" if project else ""
    if not rows:
        hint = "" if show_all else f" `/release list{' ' + project.key if project else ''} --all` includes closed ones."
        return Reply(text=f"No {'' if show_all else 'open '}releases{where}.{hint}".strip())
    lines = [list_line(p.key, r, _tz(svc, p.key)) for r, p in rows]
    label = "Releases" if show_all else "Open releases"
    return Reply(text=f"{label}{where}:", sections=["\n".join(lines)])


async def abort(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    reason: str = inv.args["reason"]
    now = svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        was = State(rel.state)
        target = next_state(was, Action.ABORT, subject=lookup.name(proj.key, rel))
        person_id = await audit.actor_id(session, inv)
        moved = await releases.move(
            session,
            rel,
            to_state=target.value,
            action=Action.ABORT.value,
            actor_id=person_id,
            now=now,
            reason=reason,
            closes=True,
        )
        if not moved:
            raise Conflict(
                f"{lookup.name(proj.key, rel)} changed while you were aborting it.",
                f"Check `/release status {lookup.ref_text(proj.key, rel)}` and try again.",
            )
        await audit.record(
            session,
            inv,
            "release.abort",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=reason,
            person_id=person_id,
        )
        await outbox.tell_team(
            session,
            inv,
            ref.project,
            f"{_who(inv)} aborted {lookup.name(proj.key, rel)}: {reason}",
            key=f"release:{rel.id}:aborted",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    return Reply(
        text=f"Aborted {lookup.name(proj.key, rel)} (it was {was.value}): {reason}",
        footer=f"Nothing was deleted: `/release status {lookup.ref_text(proj.key, rel)}` shows its history.",
    )


def _who(inv: Invocation) -> str:
    return inv.person.display if inv.person else inv.actor


def _tz(svc: Services, project_key: str) -> str:
    project = svc.settings.project(project_key)
    return project.timezone if project else svc.settings.tower.timezone


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)

COMMANDS = [
    CommandSpec(
        group="release",
        name="new",
        summary="open a release cycle (state: planning)",
        example="/release new demo",
        handler=new,
        mutates=True,
        allowed=RELEASE_MANAGERS,
        options=(Option("project", Kind.PROJECT, "the project", positional=True, required=True),),
    ),
    CommandSpec(
        group="release",
        name="status",
        summary="state, history and the next step of a release (all open ones without RELEASE)",
        example="/release status demo",
        handler=status,
        allowed=ANYONE,
        options=(Option("release", Kind.RELEASE, "the release", positional=True),),
    ),
    CommandSpec(
        group="release",
        name="list",
        summary="open releases (with --all, every release)",
        example="/release list demo --all",
        handler=list_,
        allowed=ANYONE,
        options=(
            Option("project", Kind.PROJECT, "only this project", positional=True),
            Option("all", Kind.FLAG, "include released, retired and aborted releases"),
        ),
    ),
    CommandSpec(
        group="release",
        name="abort",
        summary="end the cycle; nothing is deleted",
        example='/release abort demo --reason "wrong branch"',
        handler=abort,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        options=(_RELEASE, Option("reason", Kind.TEXT, "why, for the history", required=True)),
    ),
]
