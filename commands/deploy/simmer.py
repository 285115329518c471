"""The simmer: a live deployment watched for days before it ships.

Each tick samples the project's health probe when a sample is due, judges it (the metric must keep
advancing, or equal, stay below or above a value), and acts: trouble pages the pilot and suggests
retiring the deployment; time served passes the simmer. Every morning, at the project's local
report time, the team gets a report — once per release per local day, whatever restarts or
daylight-saving changes happen, because the report's key is the simmer and the local date.
"""

from __future__ import annotations

import asyncio
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
from commands.rules.calendar_days import local_day, local_moment
from commands.rules.lifecycle import Action, State
from commands.rules.simmer import day_of, judge, trend
from commands.scope import readiness
from storage.queries import bundle, candidates, deploys, pages, releases
from storage.queries import outbox as outbox_rows
from storage.tables import Simmer

PROBES_AT_ONCE = 16  # health probes read concurrently in one tick; each waits on the network, not on us


async def tick(svc: Services) -> int:
    """Sample, judge, pass and report whatever is due. Returns how much it queued or changed.

    Each running simmer carries the next moment it has something to do (`due_at`); a tick reads
    only the simmers due by now, through an index, so a tick with nothing due costs one query."""
    now = svc.clock.now()
    async with svc.db.read() as session:
        due = await deploys.due_simmers(session, now)
        owners = await releases.project_keys_of(session, {s.release_id for s in due})
    if not due:
        return 0
    gate = asyncio.Semaphore(PROBES_AT_ONCE)

    async def sample(simmer: Simmer) -> int:
        async with gate, svc.failures.isolated("simmer sample", owners.get(simmer.release_id, "?")):
            return await _sample_if_due(svc, simmer, now)
        return 0  # the failure was counted and logged; the others go on

    done = sum(await asyncio.gather(*(sample(s) for s in due)))
    async with svc.db.read() as session:
        due = await deploys.due_simmers(session, now)  # as sampled: a stalled one is no longer running
    for simmer in due:
        async with svc.failures.isolated("simmer report", owners.get(simmer.release_id, "?")):
            done += await _pass_if_served(svc, simmer, now)
            done += await _report_if_due(svc, simmer, now)
            await _reschedule(svc, simmer, now)
    return done


async def _reschedule(svc: Services, simmer: Simmer, now: datetime) -> None:
    """Store when this simmer next has something to do: its next sample, its end, or its next report.
    Only after this tick's work for it succeeded, so a failed step is tried again at the next tick."""
    async with svc.db.read() as session:
        _release, project, _ = await _context(session, svc, simmer)
    if project is None:
        return  # the project left config: nothing can be judged or reported; it stays due
    moments = [simmer.ends_at, _next_report(simmer, project, now)]
    if project.probe:
        moments.append((simmer.sampled_at or now) + timedelta(minutes=project.probe.interval_minutes))
    async with svc.db.write() as session:
        await deploys.set_simmer(session, simmer.id, "running", due_at=min(moments))


def _next_report(simmer: Simmer, project, now: datetime) -> datetime:
    """The next report moment after this tick's: today's if it is still to come (and the simmer did
    not begin today), else the next day's."""
    tz = project.timezone
    day, first = local_day(now, tz), local_day(simmer.started_at, tz)
    if day <= first or now >= local_moment(day, project.report_time, tz):
        day = max(day, first) + timedelta(days=1)
    return local_moment(day, project.report_time, tz)


async def _context(session, svc: Services, simmer: Simmer):
    release = await lookup.release_by_id(session, simmer.release_id)
    project = svc.settings.project((await lookup.project_of(session, release)).key)
    deployment = await deploys.by_id(session, simmer.deployment_id)
    return release, project, deployment


async def _sample_if_due(svc: Services, simmer: Simmer, now: datetime) -> int:
    async with svc.db.read() as session:
        release, project, deployment = await _context(session, svc, simmer)
    probe = project.probe if project else None
    if probe is None or (simmer.sampled_at and now - simmer.sampled_at < timedelta(minutes=probe.interval_minutes)):
        return 0
    reading = await svc.prober.read(probe)
    verdict = judge(
        probe.expect,
        probe.value,
        reading.value,
        reading.ok,
        reading.detail,
        best=simmer.best_value,
        last_advance_at=simmer.last_advance_at or simmer.started_at,
        now=now,
        stall_minutes=probe.stall_minutes,
    )
    async with svc.db.write() as session:
        await deploys.add_sample(session, simmer.id, now, reading.value, reading.ok, reading.detail)
        if verdict.healthy:
            await deploys.set_simmer(
                session,
                simmer.id,
                "running",
                sampled_at=now,
                best_value=verdict.best,
                last_advance_at=verdict.last_advance_at,
            )
            return 1
        if not await deploys.set_simmer(
            session, simmer.id, "running", state="stalled", sampled_at=now, trouble=verdict.trouble
        ):
            return 0
        assert verdict.trouble is not None  # an unhealthy judgement always says why
        await _trouble(
            session, svc, project, await lookup.release_by_id(session, release.id), deployment, verdict.trouble, now
        )
    return 1


async def _trouble(session, svc: Services, project, release, deployment, trouble: str, now: datetime) -> None:
    from commands.crew.paging import open_page  # paging → escalation → crew: imported late to keep imports one-way

    lookup.name(project.key, release)
    if release.state == State.SIMMERING.value:
        await releases.move(
            session,
            release,
            to_state=State.FAILED.value,
            action=Action.HEALTH_FAILED.value,
            actor_id=None,
            now=now,
            reason=trouble,
        )
    ref = lookup.ref_text(project.key, release)
    await open_page(
        svc,
        project,
        release,
        f"{deployment.environment} is unhealthy: {trouble}. Consider `/deploy retire {ref}`.",
        source="health-stalled",
        created_by_id=None,
        session=session,
    )
    await audit.record_event(
        session,
        "simmer.stalled",
        now,
        source="probe",
        project_id=release.project_id,
        release_id=release.id,
        detail=trouble,
    )


async def _pass_if_served(svc: Services, simmer: Simmer, now: datetime) -> int:
    if now < simmer.ends_at:
        return 0
    async with svc.db.write() as session:
        if not await deploys.set_simmer(session, simmer.id, "running", state="passed"):
            return 0
        release, project, deployment = await _context(session, svc, simmer)
        title = lookup.name(project.key, release)
        note = Reply(
            text=f"The simmer of {title} passed: {deployment.environment} stayed healthy. Ready to ship once the "
            "checklist is done.",
            footer=f"`/release ship {lookup.ref_text(project.key, release)}`",
        )
        await outbox.post_many(session, project.channels.team, note, key=f"simmer:{simmer.id}:passed", now=now)
        await audit.record_event(
            session, "simmer.passed", now, source="tower", project_id=release.project_id, release_id=release.id
        )
    return 1


async def _report_if_due(svc: Services, simmer: Simmer, now: datetime) -> int:
    async with svc.db.read() as session:
        _release, project, _ = await _context(session, svc, simmer)
    today = local_day(now, project.timezone)
    if now < local_moment(today, project.report_time, project.timezone) or today <= local_day(
        simmer.started_at, project.timezone
    ):
        return 0  # not yet today, or the simmer began today (its start was announced)
    key = f"simmer:{simmer.id}:report:{today}"
    if project.channels.team:
        async with svc.db.read() as session:
            if await outbox_rows.by_key(session, f"{key}@{project.channels.team[-1]}"):
                return 0  # today's is queued: every later tick of the day costs one indexed read
    async with svc.db.write() as session:
        report = await report_for(session, svc, simmer, now)
        return await outbox.post_many(session, project.channels.team, report, key=key, now=now)


async def report_for(session, svc: Services, simmer: Simmer, now: datetime) -> Reply:
    release, project, deployment = await _context(session, svc, simmer)
    title = lookup.name(project.key, release)
    day, total = day_of(simmer.started_at, now, project.simmer_days)
    values = [s.value for s in await deploys.samples(session, simmer.id) if s.value is not None]
    tag = next(
        (c.tag for c in await candidates.of_release(session, release.id) if c.id == deployment.candidate_id), "?"
    )
    open_pages = await pages.of_release(session, release.id)
    views = await readiness.items(session, project, release)
    fields = [Field("Day", f"{day} of {total}"), Field("Candidate", f"`{tag}` on {deployment.environment}")]
    if project.probe:
        fields.append(Field("Health", f"{trend(values)} ({project.probe.expect})"))
    fields.append(Field("Pages", ", ".join(f"#{p.id} {p.message[:60]}" for p in open_pages) or "none"))
    fields.append(Field("Checklist", f"{sum(v.checked for v in views)} of {len(views)} done"))
    left = simmer.ends_at - now
    ships = (
        "the simmer has passed"
        if left <= timedelta(0)
        else f"the simmer ends {simmer.ends_at.astimezone(ZoneInfo(project.timezone)):%A %Y-%m-%d %H:%M}"
    )
    state = f" — trouble: {simmer.trouble}" if simmer.trouble else ""
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
