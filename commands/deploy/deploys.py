"""/deploy start, status and retire.

A deploy is recorded — with the operation id the CI will carry — before the CI is asked. If the
answer is lost, the deployment stays pending and the scheduler finds the run by its operation id
(or, for a CI that deduplicates by it, simply asks again): double clicks, retries and restarts
never start a second pipeline.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from commands.deploy.events import ensure_deploying, new_operation_id, run_request, start_retirement
from commands.engine import audit, lookup, outbox
from commands.engine.context import Invocation
from commands.engine.errors import CommandError, Conflict, NotAllowed, NotFound, UsageError
from commands.engine.ports import CIError, CIUnavailable
from commands.engine.reply import Field, Reply
from commands.engine.roles import ANYONE, CREW, PILOT_OR_MANAGER, Role
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.calendar_days import blackout_gate, local_day
from commands.rules.lifecycle import Action, State, next_state
from commands.scope import readiness
from storage.queries import candidates, deploys


async def start(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project, now = ref.project, svc.clock.now()
    environment = inv.args.get("env") or project.environments[0]
    if environment not in project.environments:
        raise UsageError(
            f"{project.key} has no environment `{environment}`.", f"Known: {', '.join(project.environments)}."
        )
    ci = svc.cis.for_project(project)
    if ci is None:
        raise UsageError(f"{project.key} has no deploy pipeline.", "Configure `[projects.X.ci]` in tower.toml.")
    override = inv.args.get("override")
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        next_state(State(rel.state), Action.DEPLOY, subject=title)
        gates = [g for g in [_blackout(project, now)] if g]
        absent = await readiness.blocking(session, project, rel, "deploy")
        if absent:
            gates.append("missing " + "; ".join(f"{i.seq}. {i.text}" for i in absent))
        if gates and not override:
            raise CommandError(
                f"Not deploying {title}: " + "; ".join(gates) + ".",
                "A release manager may deploy anyway with `--override REASON`, which is recorded.",
            )
        if override and Role.RELEASE_MANAGER not in inv.roles:
            raise NotAllowed("Only release managers may deploy with `--override`.")
        cut = await candidates.of_release(session, rel.id, states=("cut",))
        tag = inv.args.get("candidate")
        candidate = next((c for c in cut if c.tag == tag), None) if tag else (cut[-1] if cut else None)
        if candidate is None:
            raise NotFound(
                f"{title} has no candidate {tag} to deploy." if tag else f"{title} has no candidate to deploy.",
                f"`/rc list {lookup.ref_text(proj.key, rel)}` lists them.",
            )
        attempt = len(await deploys.of_release(session, rel.id)) + 1
        operation = new_operation_id(project.key, str(rel.number), candidate.tag, environment, str(attempt))
        person = await audit.actor_id(session, inv)
        try:
            deployment = await deploys.add(
                session,
                release_id=rel.id,
                candidate_id=candidate.id,
                environment=environment,
                operation_id=operation,
                state="pending",
                created_at=now,
                created_by_id=person,
            )
        except IntegrityError:
            raise Conflict(
                f"{title} is already deploying to {environment}.", f"`/deploy status {ref}` shows it."
            ) from None
        await audit.record(
            session,
            inv,
            "deploy.start",
            now,
            project_id=proj.id,
            release_id=rel.id,
            person_id=person,
            detail=f"{candidate.tag} to {environment}" + (f"; override: {override}" if override else ""),
        )
    request = run_request(svc, project, rel, candidate.tag, operation, "deploy", environment)
    try:
        run = await ci.trigger(request)
    except CIUnavailable as err:
        note = "It may have started: Tower looks for it by its operation id and" if err.maybe_started else "Tower"
        return Reply(
            text=f"Asked the CI to deploy {candidate.tag} to {environment}, but it did not answer ({err}).",
            ok=False,
            footer=f"{note} tries again shortly; `/deploy status {ref}` shows where it is.",
        )
    except CIError as err:
        async with svc.db.write() as session:
            await deploys.move(
                session, deployment.id, ("pending",), "refused", failure=str(err)[:2000], finished_at=svc.clock.now()
            )
        raise CommandError(
            f"The CI refused the deploy: {err}", "Nothing was deployed; fix it and run the command again."
        ) from None
    async with svc.db.write() as session:
        current = await lookup.release_by_id(session, rel.id)
        if await deploys.move(session, deployment.id, ("pending",), "running", run_id=run.run_id, run_url=run.url):
            # Still in flight (a fast CI may have reported already, and moved the release itself).
            await ensure_deploying(session, current, svc.clock.now(), f"{candidate.tag} to {environment}", person)
        await outbox.post_many(
            session,
            project.channels.team,
            Reply(text=f"{inv.member.display} is deploying {candidate.tag} to {environment}."),
            key=f"deployment:{deployment.id}:started",
            now=svc.clock.now(),
            skip=inv.channel,
        )
    fields = [Field("Operation", f"`{operation}`")] + ([Field("Run", run.url)] if run.url else [])
    return Reply(
        text=f"Deploying {candidate.tag} to {environment}.",
        fields=fields,
        footer="The simmer starts when the smoke test passes.",
    )


def _blackout(project, now) -> str | None:
    today = local_day(now, project.timezone)
    return blackout_gate(today, project.blackout_weekdays, project.blackout_dates, project.weekend_days)


async def status(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        found = await deploys.of_release(session, rel.id)
        tags = {c.id: c.tag for c in await candidates.of_release(session, rel.id)}
    title = lookup.name(proj.key, rel)
    if not found:
        return Reply(
            text=f"{title} has not been deployed yet.", footer=f"`/deploy start {lookup.ref_text(proj.key, rel)}`"
        )
    tz = ref.project.timezone
    lines = []
    for d in found:
        extra = "".join(
            f" — {x}"
            for x in (d.failure and f"failed: {d.failure[:120]}", d.run_url, d.archive_url and f"logs: {d.archive_url}")
            if x
        )
        lines.append(
            f"#{d.id} {tags.get(d.candidate_id)} → {d.environment}: {d.state} "
            f"({lookup.local_time(d.created_at, tz)}){extra}"
        )
    return Reply(text=f"Deployments of {title}:", sections=["\n".join(lines)])


async def retire(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    number = inv.args.get("deployment")
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        up = await deploys.of_release(session, rel.id, states=deploys.UP)
    title = lookup.name(proj.key, rel)
    chosen = [d for d in up if number is None or d.id == number]
    if not chosen:
        raise NotFound(
            f"{title} has no running deployment" + (f" #{number}." if number else "."),
            f"`/deploy status {lookup.ref_text(proj.key, rel)}` lists them.",
        )
    if svc.cis.for_project(ref.project) is None:
        raise UsageError(f"{proj.key} has no pipeline to retire deployments with.")
    started = 0
    for deployment in chosen:
        started += await start_retirement(svc, deployment.id, by=None)
    async with svc.db.write() as session:
        await audit.record(
            session,
            inv,
            "deploy.retire",
            svc.clock.now(),
            project_id=proj.id,
            release_id=rel.id,
            detail=", ".join(f"#{d.id} {d.environment}" for d in chosen),
        )
    return Reply(
        text=f"Retiring {started} deployment{'s' if started != 1 else ''} of {title}.",
        footer="The CI shuts it down and archives its logs; the team hears when it is done.",
    )


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)

COMMANDS = [
    CommandSpec(
        group="deploy",
        name="start",
        summary="deploy a candidate through the CI (exactly once)",
        example="/deploy start demo --candidate v1.3.0-rc2",
        handler=start,
        mutates=True,
        allowed=CREW,
        options=(
            _RELEASE,
            Option("candidate", Kind.TEXT, "the candidate's tag (default: the latest)"),
            Option("env", Kind.TEXT, "the environment (default: the project's first)"),
            Option("override", Kind.TEXT, "deploy despite a blackout day or the checklist, and why (release managers)"),
        ),
    ),
    CommandSpec(
        group="deploy",
        name="status",
        summary="deployments, their CI runs and failures",
        example="/deploy status demo",
        handler=status,
        allowed=ANYONE,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="deploy",
        name="retire",
        summary="retire a deployment: shut it down, archive its logs",
        example="/deploy retire demo@1.2.0",
        handler=retire,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        options=(_RELEASE, Option("deployment", Kind.INT, "which deployment (default: all running)")),
    ),
]
