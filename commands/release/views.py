"""How releases look in replies: the status card and the list line."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.crew.seats import crew_today
from commands.engine.links import page_url
from commands.engine.lookup import local_date, local_time, name, ref_text
from commands.engine.registry import Registry
from commands.engine.reply import Field, Reply
from commands.engine.settings import ProjectSettings
from commands.rules.calendar_days import local_day
from commands.rules.checklist import STEP_WORDS, STEPS, missing
from commands.rules.lifecycle import State, next_steps
from commands.rules.simmer import day_of
from commands.rules.wording import plural
from commands.scope import readiness
from commands.scope.milestones import countdown_of
from storage.queries import candidates, deploys, directory, pages, releases, scope
from storage.tables import Release

HISTORY_SHOWN = 8


async def status_card(
    session: AsyncSession,
    project: ProjectSettings,
    rel: Release,
    registry: Registry,
    now: datetime,
    public_url: str | None = None,
) -> Reply:
    state = State(rel.state)
    tz = project.timezone
    history = await releases.transitions(session, rel.id)
    people = await directory.people_by_id(session, [t.actor_id for t in history] + [rel.opened_by_id])

    def who(person_id: int | None) -> str:
        return people[person_id].handle if person_id in people else "Tower"

    fields = [
        Field("State", state.value),
        Field("Version", rel.version or "not named yet"),
        Field("Opened", f"{local_date(rel.opened_at, tz)} by {who(rel.opened_by_id)}"),
    ]
    crew = await crew_today(session, project, rel.id, now)
    if crew.pilot or crew.copilot:
        fields.append(Field("Crew", crew.describe()))
    elif state.is_open:
        fields.append(Field("Crew", "not assigned yet"))
    open_pages = await pages.of_release(session, rel.id)
    if open_pages:
        fields.append(Field("Open pages", ", ".join(f"#{p.id} {p.message[:60]}" for p in open_pages)))
    coming = await countdown_of(session, rel, local_day(now, tz)) if state.is_open else None
    if coming:
        fields.append(Field("Countdown", coming))
    features = await scope.features(session, rel.id)
    if features or rel.scope_frozen_at:
        late = [f for f in await scope.features(session, rel.id, include_removed=True) if f.override]
        summary = f"{plural(len(features), 'feature')}, " + ("frozen" if rel.scope_frozen_at else "open")
        fields.append(Field("Scope", summary + (f"; {len(late)} changed after the freeze" if late else "")))
    if state.is_open:
        views = await readiness.items(session, project, rel)
        waiting = next(((step, missing(step, views)) for step in STEPS if missing(step, views)), None)
        counted = [v for v in views if not v.void]  # a replaced deployment's steps no longer count
        done = f"{sum(v.checked for v in counted)} of {len(counted)} done"
        fields.append(
            Field(
                "Checklist",
                done
                + (
                    f"; {STEP_WORDS[waiting[0]]} waits for {', '.join(str(v.seq) for v in waiting[1])}"
                    if waiting
                    else ""
                ),
            )
        )
    tags = {c.id: c.tag for c in await candidates.of_release(session, rel.id)}
    up = await deploys.of_release(session, rel.id, states=deploys.UP + deploys.IN_FLIGHT)
    if up:
        fields.append(
            Field("Deployed", ", ".join(f"`{tags.get(d.candidate_id)}` on {d.environment} ({d.state})" for d in up))
        )
    simmer = await deploys.simmer_of(session, rel.id)
    if simmer is not None and state.is_open:
        day, total = day_of(simmer.started_at, now, project.simmer_days, project.timezone)
        fields.append(
            Field("Simmer", f"{simmer.state}, day {day} of {total}" + (f": {simmer.trouble}" if simmer.trouble else ""))
        )
    cut = [c.tag for c in await candidates.of_release(session, rel.id) if c.state == "cut"]
    if cut:
        shown = cut if len(cut) <= 6 else ["…", *cut[-5:]]
        fields.append(Field("Candidates", ", ".join(f"`{t}`" for t in shown) + f" ({len(cut)})"))
    if rel.closed_at is not None:
        fields.append(
            Field("Closed", f"{local_date(rel.closed_at, tz)}" + (f": {rel.close_reason}" if rel.close_reason else ""))
        )
    if public_url:
        fields.append(Field("Page", page_url(public_url, project.key, rel)))
    lines = []
    for t in history[-HISTORY_SHOWN:]:
        why = f": {t.reason}" if t.reason else ""
        lines.append(f"{local_time(t.at, tz)}  {t.action} → {t.to_state} by {who(t.actor_id)}{why}")
    if len(history) > HISTORY_SHOWN:
        lines.insert(0, f"… {len(history) - HISTORY_SHOWN} earlier steps")
    sections = ["History:\n" + "\n".join(lines)]
    footer = next_step_text(project, rel, registry)
    return Reply(text=f"{name(project.key, rel)}: {state.value}", fields=fields, sections=sections, footer=footer)


def next_step_text(project: ProjectSettings, rel: Release, registry: Registry) -> str | None:
    state = State(rel.state)
    if not state.is_open:
        return None if state.is_final else "Shipped."
    ref = ref_text(project.key, rel) if rel.version else project.key
    # Only steps whose command exists in this Tower: never advise a command that isn't there.
    steps = [s for s in next_steps(state) if registry.has(s.command)]
    if project.ci is None:  # no pipeline (a library): deploying and retiring lead nowhere
        steps = [s for s in steps if s.command not in ("deploy start", "deploy retire")]
    if not steps:
        return f"Next: {_waiting(state)}" if _waiting(state) else None
    return "Next: " + "; or ".join(f"`/{s.command} {ref}{_flags(project, state, s)}` to {s.why}" for s in steps) + "."


def _flags(project: ProjectSettings, state: State, step) -> str:
    """After a failed deploy, an rc-scheme project cuts an interim patch of the failed candidate."""
    return " --patch" if state is State.FAILED and step.command == "rc cut" and project.tag_scheme == "rc" else ""


def _waiting(state: State) -> str | None:
    return {State.DEPLOYING: "waiting for the deploy and smoke test to report back."}.get(state)


def list_line(project_key: str, rel: Release, tz: str) -> str:
    version = rel.version or "unnamed"
    return f"`{project_key}#{rel.number}`  {version}  {rel.state}  opened {local_date(rel.opened_at, tz)}"
