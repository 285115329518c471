"""/page and /ack: wake the pilot; escalate until someone acknowledges."""

from __future__ import annotations

from commands.crew.duty import last_shipped
from commands.crew.escalation import (
    ROLE_WORDS,
    deliver,
    fyi,
    next_due,
    paged_so_far,
    pager_channels,
    resolve,
    step_role,
)
from commands.crew.seats import crew_today
from commands.engine import audit, lookup, outbox
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotAllowed, NotFound
from commands.engine.reply import Button, Field, Reply
from commands.engine.roles import MEMBERS
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.wording import plural
from storage.queries import directory, pages
from storage.tables import Page, Project, Release


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
    title = lookup.name(project.key, release)
    step = await deliver(
        session, svc, project, release, title, page, await resolve(session, svc, project, release, page.id, 0), now
    )
    if not step.people:  # nobody holds the seat: do not wait before trying the next one
        await pages.reschedule(session, page.id, now)
    await fyi(session, svc, project, release, title, page, now)
    return page, step.people, "acting-pilot" if step.stand_in else step.role


async def _paged_release(session, ref: ReleaseRef, now) -> tuple[Project, Release]:
    """The release `/page PROJECT` is about: the newest open one, else the one just shipped while its
    all-clear window lasts (its pilot is accountable for it). Past the window, a refusal that says
    so and whom a page would reach."""
    try:
        return await lookup.release(session, ref)
    except NotFound:
        proj = await directory.project_by_key(session, ref.project.key)
        if ref.version or ref.number is not None or proj is None:
            raise
        shipped = await last_shipped(session, ref.project, proj.id)
        if shipped is None:
            raise
        release, clear = shipped
        if now < clear:
            return proj, release
        crew = await crew_today(session, ref.project, release.id, now)
        title = lookup.name(proj.key, release)
        whom = f"its pilot {crew.acting}" if crew.acting else "its release managers"
        raise NotFound(
            f"{proj.key} has no open release, and {title} has been all clear since "
            f"{lookup.local_time(clear, ref.project.timezone)}: its crew is off duty, so nobody was paged.",
            f"`/page {lookup.ref_text(proj.key, release)} MESSAGE` would page {whom} first; "
            f"`/release new {proj.key}` opens the next release.",
        ) from None


async def page(inv: Invocation, svc: Services) -> Reply:
    ref: ReleaseRef = inv.args["release"]
    project = ref.project
    async with svc.db.write() as session:
        proj, rel = await _paged_release(session, ref, svc.clock.now())
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
        coming = await resolve(session, svc, project, rel, created.id, 1) if step_role(project, 1) else None
    title = lookup.name(proj.key, rel)
    word = "acting pilot" if role == "acting-pilot" else ROLE_WORDS[role]
    if people:
        text = f"Page #{created.id} sent to {', '.join(people)} ({word} of {title})."
        after = (
            f"Unacknowledged, it goes to the {ROLE_WORDS[coming.role]} in "
            f"{plural(project.paging.escalate_after_minutes, 'minute')}."
            if coming
            else None
        )
    else:
        text = f"Page #{created.id} for {title}: nobody holds the {word} seat."
        after = f"It goes on to the {ROLE_WORDS[coming.role]} right away." if coming else None
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
        paged = {handle for reached in (await paged_so_far(session, number)).values() for handle in reached}
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
        # A project taken out of the config has no channels left to tell; the page still closes.
        team = project.channels.team if project is not None else []
        await outbox.post_many(session, team, note, key=f"page:{number}:ack", now=now, skip=inv.channel)
        for channel in pager_channels(project) if project is not None else []:
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
