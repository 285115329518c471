"""The simmer's scheduled work: sample, judge, pass and report whatever is due.

Each running simmer carries the next moment it has something to do (`due_at`: its next sample,
its end, or its next morning report, whichever comes first). A tick reads only the simmers due by
now, through an index on (state, due_at), with their release and deployment in the same query; so
a tick with nothing due costs one query however many releases simmer. Probes are read
concurrently, at most PROBES_AT_ONCE at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from commands.deploy.simmer import report_for
from commands.engine import audit, lookup, outbox
from commands.engine.ports import Reading
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.settings import ProbeSettings, ProjectSettings
from commands.rules.calendar_days import local_day, local_moment
from commands.rules.lifecycle import Action, State
from commands.rules.simmer import judge
from storage.queries import bundle, deploys, directory, releases
from storage.queries import outbox as outbox_rows
from storage.tables import Deployment, Release, Simmer

PROBES_AT_ONCE = 16  # health probes read at once in one tick; each waits on the network, not on Tower
Context = tuple[Release, ProjectSettings | None, Deployment]


async def tick(svc: Services) -> int:
    """Returns how much it queued or changed."""
    now = svc.clock.now()
    async with svc.db.read() as session:
        due = await deploys.due_simmers(session, now)
    if not due:
        return 0
    # The probes are read at once (bounded); what they say is written one simmer at a time, as
    # concurrent writers would only queue for the database's write lock.
    gate = asyncio.Semaphore(PROBES_AT_ONCE)

    async def read(simmer: Simmer, key: str) -> Reading | None:
        probe = _probe_due(svc.settings.project(key), simmer, now)
        if probe is None:
            return None
        async with gate, svc.failures.isolated("simmer sample", key):
            return await svc.prober.read(probe)
        return None  # the failure was counted and logged; the others go on

    readings = await asyncio.gather(*(read(simmer, key) for simmer, _, key, _ in due))
    sampled = [
        (key, (simmer, (release, svc.settings.project(key), deployment), reading))
        for (simmer, release, key, deployment), reading in zip(due, readings, strict=True)
        if reading is not None
    ]
    done = sum(r for ok, r in await _batched(svc, "simmer sample", sampled, _record_sample, now, write=True) if ok)
    async with svc.db.read() as session:
        due = await deploys.due_simmers(session, now)  # as sampled: a stalled one is no longer running
    todo: list[tuple[str, Item]] = []
    unconfigured: list[int] = []
    for simmer, release, key, deployment in due:
        context = (release, svc.settings.project(key), deployment)
        async with svc.failures.isolated("simmer report", key):
            done += await _pass_if_served(svc, simmer, context, now)
        if context[1] is not None:
            todo.append((key, (simmer, context, None)))
        else:
            unconfigured.append(simmer.id)
    if unconfigured:
        async with svc.failures.isolated("simmer rest", "*"):  # the configured projects' reports go on
            await _rest(svc, unconfigured, now)
    reports = await _batched(svc, "simmer report", todo, _report_if_due, now, write=False)
    writes = [
        (key, (simmer, context, report))
        for (key, (simmer, context, _)), (ok, report) in zip(todo, reports, strict=True)
        if ok  # a report that could not be made is not rescheduled past: the simmer stays due
    ]
    queued = await _batched(svc, "simmer report", writes, _queue_and_reschedule, now, write=True)
    return done + sum(r for ok, r in queued if ok)


async def _rest(svc: Services, simmer_ids: list[int], now: datetime) -> None:
    """Simmers whose project left the config: nothing can be judged or reported without it, so they
    are not read at every tick. Config changes only with a restart, whose first tick (see
    `recheck_due_moments`) makes them due again once their project is back."""
    async with svc.db.write() as session:
        for simmer_id in simmer_ids:
            await deploys.set_simmer(session, simmer_id, "running", due_at=now + RESTING)


RESTING = timedelta(days=3650)
BATCH = 100  # simmers per transaction: a transaction costs more than the rows it writes
Item = tuple[Simmer, Context, Any]


async def _batched(
    svc: Services,
    step: str,
    items: list[tuple[str, Item]],
    work: Callable[[Any, Services, Item, datetime], Awaitable[Any]],
    now: datetime,
    *,
    write: bool,
) -> list[tuple[bool, Any]]:
    """`work` for each (project key, item), BATCH of them per transaction. A batch that fails is done
    again one item at a time, each isolated: a bad row fails only its own project's step (and, not
    rescheduled, stays due for the next tick). Returns (done, result) for each item."""
    results: list[tuple[bool, Any]] = []
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        try:
            async with svc.db.write() if write else svc.db.read() as session:
                results += [(True, await work(session, svc, item, now)) for _, item in chunk]
            continue
        except Exception:
            pass
        for key, item in chunk:
            result: tuple[bool, Any] = (False, None)
            async with svc.failures.isolated(step, key), svc.db.write() if write else svc.db.read() as session:
                result = (True, await work(session, svc, item, now))
            results.append(result)
    return results


def _probe_due(project: ProjectSettings | None, simmer: Simmer, now: datetime) -> ProbeSettings | None:
    """The project's probe if a sample is due now."""
    probe = project.probe if project else None
    if probe is None or (simmer.sampled_at and now - simmer.sampled_at < timedelta(minutes=probe.interval_minutes)):
        return None
    return probe


async def _record_sample(session, svc: Services, item: Item, now: datetime) -> int:
    simmer, context, reading = item
    release, project, deployment = context
    assert project is not None and project.probe is not None  # only a configured probe was read
    probe = project.probe
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


async def _pass_if_served(svc: Services, simmer: Simmer, context: Context, now: datetime) -> int:
    release, project, deployment = context
    if now < simmer.ends_at or project is None:
        return 0
    async with svc.db.write() as session:
        if not await deploys.set_simmer(session, simmer.id, "running", state="passed"):
            return 0
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


async def _queue_and_reschedule(session, svc: Services, item: Item, now: datetime) -> int:
    """Today's report if it was made (once: its key is the simmer and the local day), and the
    simmer's next due moment. Only after this tick's work for it succeeded: a step that failed
    stays due and is tried again at the next tick."""
    simmer, (_release, project, _), report = item
    assert project is not None, "reports are made for configured projects"
    moments = [simmer.ends_at, _next_report(simmer, project, now)]
    if project.probe:
        moments.append((simmer.sampled_at or now) + timedelta(minutes=project.probe.interval_minutes))
    queued = 0
    if report is not None:
        key = f"simmer:{simmer.id}:report:{local_day(now, project.timezone)}"
        queued = await outbox.post_many(session, project.channels.team, report, key=key, now=now)
    await deploys.set_simmer(session, simmer.id, "running", due_at=min(moments))
    return queued


async def _report_if_due(session, svc: Services, item: Item, now: datetime) -> Reply | None:
    simmer, context, _ = item
    _release, project, _ = context
    assert project is not None, "reports are made for configured projects"
    today = local_day(now, project.timezone)
    if now < local_moment(today, project.report_time, project.timezone) or today <= local_day(
        simmer.started_at, project.timezone
    ):
        return None  # not yet today, or the simmer began today (its start was announced)
    key = f"simmer:{simmer.id}:report:{today}"
    if project.channels.team and await outbox_rows.by_key(session, f"{key}@{project.channels.team[-1]}"):
        return None  # today's is queued
    await bundle.preload(session, simmer.release_id)
    return await report_for(session, svc, simmer, now, context)


def _next_report(simmer: Simmer, project: ProjectSettings, now: datetime) -> datetime:
    """The next report moment after this tick's: today's if it is still to come (and the simmer did
    not begin today), else the next day's."""
    tz = project.timezone
    day, first = local_day(now, tz), local_day(simmer.started_at, tz)
    if day <= first or now >= local_moment(day, project.report_time, tz):
        day = max(day, first) + timedelta(days=1)
    return local_moment(day, project.report_time, tz)


async def recheck_due_moments(svc: Services) -> int:
    """Once the scheduler is this replica's (at start, or taken over): a running simmer whose stored
    due moment lies beyond what the current config could want (the next sample under today's probe
    interval, the next report at today's report time and zone) was scheduled under another config,
    and is made due now. Under an unchanged config this touches nothing. How many were made due."""
    now, made_due = svc.clock.now(), 0
    async with svc.db.write() as session:
        for key, project in svc.settings.projects.items():
            row = await directory.project_by_key(session, key)
            if row is not None:
                made_due += await deploys.unschedule_simmers_after(session, row.id, _latest_due(project, now))
    return made_due


def _latest_due(project: ProjectSettings, now: datetime) -> datetime:
    """The latest a running simmer of the project may be due: its next sample or the next report moment."""
    tz = project.timezone
    report = local_moment(local_day(now, tz), project.report_time, tz)
    if report <= now:
        report = local_moment(local_day(now, tz) + timedelta(days=1), project.report_time, tz)
    if project.probe is None:
        return report
    return min(report, now + timedelta(minutes=project.probe.interval_minutes))
