"""The simmer: a live deployment watched for days before it ships.

Each tick (simmer_tick.py) samples the project's health probe when a sample is due, judges it (the metric must keep
advancing, or equal, stay below or above a value), and acts: trouble pages the pilot and suggests
retiring the deployment; time served passes the simmer. Every morning, at the project's local
report time, the team gets a report — once per release per local day, whatever restarts or
daylight-saving changes happen, because the report's key is the simmer and the local date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands.engine import audit, lookup, outbox
from commands.engine.context import Invocation
from commands.engine.errors import NotFound
from commands.engine.links import page_url
from commands.engine.reply import Field, Reply
from commands.engine.roles import ANYONE, CREW
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.simmer import day_of, trend
from commands.scope import readiness
from storage.queries import bundle, candidates, deploys, pages
from storage.tables import Simmer


async def context_of(session, svc: Services, simmer: Simmer):
    """The simmer's release, its project's settings (None if it left config) and its deployment."""
    release = await lookup.release_by_id(session, simmer.release_id)
    project = svc.settings.project((await lookup.project_of(session, release)).key)
    deployment = await deploys.by_id(session, simmer.deployment_id)
    return release, project, deployment


async def report_for(session, svc: Services, simmer: Simmer, now: datetime, context=None) -> Reply:
    """The report's card; `context` (from context_of) when the caller has it already."""
    release, project, deployment = context or await context_of(session, svc, simmer)
    title = lookup.name(project.key, release)
    day, total = day_of(simmer.started_at, now, project.simmer_days, project.timezone)
    values = [s.value for s in await deploys.samples(session, simmer.id) if s.value is not None]
    tag = next(
        (c.tag for c in await candidates.of_release(session, release.id) if c.id == deployment.candidate_id), "?"
    )
    open_pages = await pages.of_release(session, release.id)
    views = await readiness.items(session, project, release)
    fields = [Field("Day", f"{day} of {total}"), Field("Candidate", f"`{tag}` on {deployment.environment}")]
    if project.probe:
        judged = f"trouble: {simmer.trouble}" if simmer.trouble else project.probe.expect
        fields.append(Field("Health", f"{trend(values)} ({judged})"))
    fields.append(Field("Pages", ", ".join(f"#{p.id} {p.message[:60]}" for p in open_pages) or "none"))
    counted = [v for v in views if not v.void]
    fields.append(Field("Checklist", f"{sum(v.checked for v in counted)} of {len(counted)} done"))
    left = simmer.ends_at - now
    ref = lookup.ref_text(project.key, release)
    ships = (
        f"not this deployment: it stopped simmering. Cut the fix with `/rc cut {ref}` and deploy it, "
        f"or retire it with `/deploy retire {ref}`"
        if simmer.trouble
        else "the simmer has passed"
        if left <= timedelta(0)
        else f"the simmer ends {simmer.ends_at.astimezone(ZoneInfo(project.timezone)):%A %Y-%m-%d %H:%M}"
    )
    state = f" — stopped, trouble: {simmer.trouble}" if simmer.trouble else ""
    url = page_url(svc.settings.tower.public_url, project.key, release)
    if url:
        fields.append(Field("Page", url))
    return Reply(
        text=f"Simmer report for {title}: day {day} of {total}{state}.",
        fields=fields,
        footer=f"Ship: {ships}.",
        ok=simmer.trouble is None,
    )


async def status(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        await bundle.preload(session, rel.id)
        simmer = await deploys.simmer_of(session, rel.id)
        if simmer is None:
            raise NotFound(
                f"{lookup.name(proj.key, rel)} is not simmering.", "It starts when a deploy's smoke test passes."
            )
        report = await report_for(session, svc, simmer, svc.clock.now())
    report.text = report.text.replace("Simmer report for", "Simmer of")
    report.ok = True  # a question answered: the trouble is in the answer, not an error of the command
    return report


async def report(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        simmer = await deploys.simmer_of(session, rel.id)
        if simmer is None:
            raise NotFound(f"{lookup.name(proj.key, rel)} is not simmering.")
        note = await report_for(session, svc, simmer, now)
        sent = await outbox.post_many(
            session,
            ref.project.channels.team,
            note,
            key=f"simmer:{simmer.id}:asked:{now.isoformat()}",
            now=now,
            skip=inv.channel,
        )
        await audit.record(session, inv, "simmer.report", now, project_id=proj.id, release_id=rel.id)
    note.footer = (note.footer or "") + f" Posted to {sent} team channel{'s' if sent != 1 else ''}."
    return note


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)

COMMANDS = [
    CommandSpec(
        group="simmer",
        name="status",
        summary="day k of N, the health trend, pages, the way to ship",
        example="/simmer status demo",
        handler=status,
        allowed=ANYONE,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="simmer",
        name="report",
        summary="post today's simmer report to the team now",
        example="/simmer report demo",
        handler=report,
        mutates=True,
        allowed=CREW,
        options=(_RELEASE,),
    ),
]
