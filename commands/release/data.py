"""Everything known about a release, as plain data: for its web page, its JSON, and the dashboard.
No HTML here — that is the web's business (bot/pages)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.crew.seats import crew_of
from commands.engine import lookup
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.calendar_days import countdown, local_day
from commands.rules.lifecycle import State
from commands.rules.simmer import day_of
from commands.scope import readiness
from commands.scope.features import feature_status
from storage.queries import audit, candidates, deploys, directory, pages, releases, scope
from storage.tables import Release


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def release_data(session: AsyncSession, svc: Services, project: ProjectSettings, release: Release) -> dict:
    now = svc.clock.now()
    crew = await crew_of(session, release.id)
    cut = await candidates.of_release(session, release.id)
    tags = {c.id: c.tag for c in cut}
    features = await scope.features(session, release.id, include_removed=True)
    results = {c.tag: await scope.results(session, c.id) for c in cut if c.state in ("cut", "failed")}
    latest = next((c.tag for c in reversed(cut) if c.state in ("cut", "failed")), None)
    simmer = await deploys.simmer_of(session, release.id)
    samples = await deploys.samples(session, simmer.id) if simmer else []
    history = await releases.transitions(session, release.id)
    entries = await audit.entries(session, release_id=release.id, limit=500)
    people = await directory.people_by_id(session, [t.actor_id for t in history])
    views = await readiness.items(session, project, release)
    milestones = [(m.name, m.due) for m in await scope.milestones(session, release.id)]
    notes = _notes(cut)
    return {
        "project": {
            "key": project.key,
            "name": project.display,
            "timezone": project.timezone,
            "pull_url": project.pull_link("{number}"),
        },
        "release": {
            "number": release.number,
            "version": release.version,
            "state": release.state,
            "opened_at": _iso(release.opened_at),
            "closed_at": _iso(release.closed_at),
            "close_reason": release.close_reason,
            "title": lookup.name(project.key, release),
            "issue_url": release.issue_url,
        },
        "crew": {"pilot": crew.pilot, "copilot": crew.copilot, "jumpseats": crew.jumpseats or []},
        "candidates": [
            {
                "seq": c.seq,
                "tag": c.tag,
                "kind": c.kind,
                "state": c.state,
                "commit": c.commit_sha,
                "url": project.tag_link(c.tag),
                "created_at": _iso(c.created_at),
            }
            for c in cut
        ],
        "notes": notes,
        "scope": {
            "frozen": release.scope_frozen_at is not None,
            "latest_candidate": latest,
            "features": [
                {
                    "id": f.id,
                    "title": f.title,
                    "state": f.state,
                    "tests": [t for t in f.tests.split(",") if t],
                    "status": feature_status([t for t in f.tests.split(",") if t], results.get(latest, {}))
                    if latest
                    else "untested",
                    "results": {tag: {t: r.get(t) for t in f.tests.split(",") if t} for tag, r in results.items()},
                    "after_freeze": f.override,
                }
                for f in features
            ],
        },
        "checklist": [
            {
                "seq": v.seq,
                "text": v.text,
                "before": v.before,
                "automatic": bool(v.auto),
                "done": v.checked,
                "void": v.void or None,  # e.g. "void — deployment 3 replaced": it no longer counts
            }
            for v in views
        ],
        "milestones": [{"name": n, "due": d.isoformat()} for n, d in sorted(milestones, key=lambda m: m[1])],
        "countdown": countdown(milestones, local_day(now, project.timezone)) if State(release.state).is_open else None,
        "deployments": [
            {
                "id": d.id,
                "candidate": tags.get(d.candidate_id),
                "environment": d.environment,
                "state": d.state,
                "run_url": d.run_url,
                "log_url": d.log_url,
                "archive_url": d.archive_url,
                "archive": d.archive_url,  # where its logs went when it was retired (a URL or any location)
                "failure": d.failure,
                "created_at": _iso(d.created_at),
                "retired_at": _iso(d.retired_at),
            }
            for d in await deploys.of_release(session, release.id)
        ],
        "simmer": None
        if simmer is None
        else {
            "state": simmer_state(simmer.state, release.state),
            "started_at": _iso(simmer.started_at),
            "ends_at": _iso(simmer.ends_at),
            "day": day_of(simmer.started_at, now, project.simmer_days, project.timezone)[0],
            "days": day_of(simmer.started_at, now, project.simmer_days, project.timezone)[1],
            "trouble": simmer.trouble,
            "metric": project.probe.json_path if project.probe else None,
            "samples": [{"at": _iso(s.at), "value": s.value, "ok": s.ok} for s in samples],
        },
        "pages": [
            {"id": p.id, "message": p.message, "state": p.state, "source": p.source, "created_at": _iso(p.created_at)}
            for p in await pages.of_release(
                session, release.id, states=(pages.OPEN, pages.ACKNOWLEDGED, pages.RESOLVED)
            )
        ],
        "timeline": [
            {
                "at": _iso(t.at),
                "action": t.action,
                "from": t.from_state,
                "to": t.to_state,
                "by": people[t.actor_id].handle if t.actor_id in people else "Tower",
                "reason": t.reason,
            }
            for t in history
        ],
        "log": [
            {"at": _iso(e.at), "action": e.action, "actor": e.actor, "platform": e.platform, "detail": e.detail}
            for e in entries
        ],
    }


def _notes(cut) -> str:
    """The release notes as the newest candidate's annotation carries them (its changelog section)."""
    for candidate in reversed(cut):
        if candidate.notes:
            parts = candidate.notes.split("\n\n", 2)
            return parts[2].strip() if len(parts) == 3 and parts[0] == candidate.tag else candidate.notes.strip()
    return ""


RECENT_DAYS = 90  # closed releases stay on the dashboard this long


async def dashboard_data(session: AsyncSession, svc: Services) -> list[dict]:
    """Every project with its open releases at a glance, and those shipped, retired or aborted in
    the last RECENT_DAYS days."""
    now = svc.clock.now()
    projects = []
    for project in svc.settings.projects.values():
        row = await directory.project_by_key(session, project.key)
        found = [rel for rel, _ in await releases.listing(session, project_id=row.id, limit=10_000)] if row else []
        shown = [rel for rel in found if State(rel.state).is_open]
        closed = [rel for rel in found if not State(rel.state).is_open]
        cutoff = now - timedelta(days=RECENT_DAYS)
        recent = [rel for rel in closed if await _ended(session, rel) >= cutoff]
        projects.append(
            {
                "key": project.key,
                "name": project.display,
                "timezone": project.timezone,
                "releases": [await _summary(session, project, rel, now) for rel in shown],
                "recent": [await _summary(session, project, rel, now) for rel in recent],
                "older": len(closed) - len(recent),
                "recent_days": RECENT_DAYS,
            }
        )
    return projects


async def archive_data(session: AsyncSession, svc: Services, project: ProjectSettings) -> dict | None:
    """Every release the project ever had, newest first: its archive page."""
    row = await directory.project_by_key(session, project.key)
    if row is None:
        return None
    now = svc.clock.now()
    found = [rel for rel, _ in await releases.listing(session, project_id=row.id, limit=100_000)]
    return {
        "project": {"key": project.key, "name": project.display, "timezone": project.timezone},
        "releases": [await _summary(session, project, rel, now) for rel in found],
    }


async def _ended(session: AsyncSession, rel: Release) -> datetime:
    """When a release left its cycle: shipped (a released one is not closed until it is retired),
    retired or aborted."""
    if rel.closed_at is not None:
        return rel.closed_at
    shipped = [t.at for t in await releases.transitions(session, rel.id) if t.to_state == State.RELEASED]
    return shipped[-1] if shipped else rel.updated_at


async def _summary(session: AsyncSession, project: ProjectSettings, rel: Release, now: datetime) -> dict:
    crew = await crew_of(session, rel.id)
    simmer = await deploys.simmer_of(session, rel.id)
    samples = await deploys.samples(session, simmer.id) if simmer else []
    milestones = [(m.name, m.due) for m in await scope.milestones(session, rel.id)]
    is_open = State(rel.state).is_open
    return {
        "title": lookup.name(project.key, rel),
        "version": rel.version,
        "number": rel.number,
        "state": rel.state,
        "opened_at": _iso(rel.opened_at),
        "closed_at": _iso(rel.closed_at),
        "ended_at": None if is_open else _iso(await _ended(session, rel)),
        "pilot": crew.pilot,
        "copilot": crew.copilot,
        "countdown": countdown(milestones, local_day(now, project.timezone)) if is_open else None,
        "simmer": None
        if simmer is None
        else {
            "state": simmer_state(simmer.state, rel.state),
            "day": day_of(simmer.started_at, now, project.simmer_days, project.timezone)[0],
            "days": day_of(simmer.started_at, now, project.simmer_days, project.timezone)[1],
            "trouble": simmer.trouble,
            "values": [s.value for s in samples if s.value is not None][-24:],
        },
        "pages": [{"id": p.id, "message": p.message} for p in await pages.of_release(session, rel.id)],
    }


def simmer_state(simmer: str, release: str) -> str:
    """A simmer still marked running once its release has moved on is over: it ended when the release
    shipped (or was aborted) — no longer "running"."""
    if simmer != "running" or release == State.SIMMERING:
        return simmer
    return {State.RELEASED: "ended at ship", State.RETIRED: "ended at ship", State.ABORTED: "ended (aborted)"}.get(
        State(release), simmer
    )
