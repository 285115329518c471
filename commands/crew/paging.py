"""/page and /ack: wake the pilot; escalate until someone acknowledges."""

from __future__ import annotations

from commands.crew.escalation import ROLE_WORDS, deliver, fyi, next_due, pager_channels, step_role, targets
from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotAllowed, NotFound
from commands.engine.reply import Button, Field, Reply
from commands.engine.roles import MEMBERS
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from storage.queries import pages
from storage.tables import Page, Release


async def open_page(
    svc: Services,
    project: ProjectSettings,
    release: Release,
    message: str,
    *,
    source: str,
    created_by_id: int | None,
    session,
) -> tuple[Page, list[str], str]:
    """Create a page and take its first step, in the caller's transaction. Automatic pages (a failed
    deploy, a stalled simmer) come through here too."""
    now = svc.clock.now()
    page = await pages.create(
        session,
        release_id=release.id,
        message=message,
        source=source,
        created_by_id=created_by_id,
        now=now,
        next_step_at=next_due(project, 0, now),
    )
    title = f"{project.key} {release.version}" if release.version else f"{project.key}#{release.number}"
    step = await deliver(session, svc, project, release, title, page, 0, now)
    if not step.people:  # nobody holds the seat: do not wait before trying the next one
        await pages.reschedule(session, page.id, now)
    await fyi(session, svc, project, release, title, page, now)
    return page, step.people, step.role


async def page(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project = ref.project
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        actor = await audit.actor_id(session, inv)
        created, people, role = await open_page(
            svc, project, rel, inv.args["message"], source="manual", created_by_id=actor, session=session
        )
        await audit.record(
            session,
            inv,
            "page.open",
            svc.clock.now(),
            project_id=proj.id,
            release_id=rel.id,
            detail=f"page #{created.id} to {', '.join(people) or 'nobody'}",
            person_id=actor,
        )
        nxt = step_role(project, 1)
    title = lookup.name(proj.key, rel)
    if people:
        text = f"Page #{created.id} sent to {', '.join(people)} ({ROLE_WORDS[role]} of {title})."
        after = (
            f"Unacknowledged, it goes to the {ROLE_WORDS[nxt]} in {project.paging.escalate_after_minutes:g} minutes."
            if nxt
            else None
        )
    else:
        text = f"Page #{created.id} for {title}: nobody holds the {ROLE_WORDS[role]} seat."
        after = f"It goes on to the {ROLE_WORDS[nxt]} right away." if nxt else None
    return Reply(text=text, footer=after, buttons=[Button("Acknowledge", f"/ack {created.id}", "primary")])


async def ack(inv: Invocation, svc: Services) -> Reply:
    number: int = inv.args["page"]
    now = svc.clock.now()
    async with svc.db.write() as session:
        found = await pages.get(session, number)
        if found is None:
            raise NotFound(f"There is no page #{number}.", "`/release status` lists a release's open pages.")
        release = await lookup.release_by_id(session, found.release_id)
        project_row = await lookup.project_of(session, release)
        project = svc.settings.project(project_row.key)
        title = f"{project_row.key} {release.version}" if release.version else f"{project_row.key}#{release.number}"
        if found.state != pages.OPEN:
            raise Conflict(f"Page #{number} is already {found.state}.")
        assert project is not None, f"page #{number}: {project_row.key} is no longer configured"
        paged = set()
        for step in range(found.step + 1):
            paged.update(await targets(session, svc.settings, project, release, step_role(project, step) or "pilot"))
        if inv.member.handle not in paged and inv.member.handle not in svc.settings.release_managers(project_row.key):
            raise NotAllowed(
                f"Only the people paged so far ({', '.join(sorted(paged)) or 'nobody'}) or release managers "
                f"may acknowledge page #{number}."
            )
        actor = await audit.actor_id(session, inv)
        if not await pages.close(session, number, pages.ACKNOWLEDGED, actor, now):
            raise Conflict(f"Page #{number} was closed a moment ago.")
        dropped = await pages.cancel_undelivered(session, number)
        await audit.record(
            session,
            inv,
            "page.ack",
            now,
            project_id=project_row.id,
            release_id=release.id,
            detail=f"page #{number}; {dropped} undelivered messages dropped",
            person_id=actor,
        )
        note = Reply(text=f"{inv.member.display} acknowledged page #{number} for {title}.")
        await outbox.post_many(
            session, project.channels.team, note, key=f"page:{number}:ack", now=now, skip=inv.channel
        )
        for channel in pager_channels(project):
            await outbox.post(
                session,
                channel,
                Reply(text=note.text, meta={"event": "acknowledge", "page": number}),
                key=f"page:{number}:ack:pager",
                now=now,
            )
    return Reply(
        text=f"Acknowledged page #{number} for {title}; it stops escalating.", fields=[Field("Message", found.message)]
    )


COMMANDS = [
    CommandSpec(
        group=None,
        name="page",
        summary="page the release's pilot; escalates until acknowledged",
        example="/page demo the explorer is down",
        handler=page,
        mutates=True,
        allowed=MEMBERS,
        details="Unacknowledged, a page goes on to the co-pilot, the previous release's pilot, then the release "
        "managers, every few minutes (per project), and starts again.",
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("message", Kind.TEXT, "what is wrong", positional=True, required=True, greedy=True, max_length=2000),
        ),
    ),
    CommandSpec(
        group=None,
        name="ack",
        summary="acknowledge a page (also a button on the page)",
        example="/ack 12",
        handler=ack,
        mutates=True,
        allowed=MEMBERS,
        options=(Option("page", Kind.INT, "the page number", positional=True, required=True),),
    ),
]
