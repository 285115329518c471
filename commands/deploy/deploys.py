"""/deploy start, status and retire.

A deploy is recorded — with the operation id the CI will carry — before the CI is asked. If the
answer is lost, the deployment stays pending and the scheduler finds the run by its operation id
(or, for a CI that deduplicates by it, simply asks again): double clicks, retries and restarts
never start a second pipeline.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from commands.deploy.events import add_post_deploy_items, ensure_deploying, new_operation_id, run_request
from commands.deploy.reconcile import start_retirement
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
from commands.rules.simmer import day_of
from commands.scope import readiness
from storage.locks import hold_for_transaction
from storage.queries import candidates, deploys, directory

JUST_STARTED = timedelta(minutes=2)  # the same candidate deployed again this soon is the same request twice


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
    again = bool(inv.args.get("again"))
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        # One `/deploy start` of a release at a time, in every process: what the checks below read is
        # what the one before left (PostgreSQL: a lock held to the end of this transaction; SQLite
        # runs write transactions one at a time anyway).
        await hold_for_transaction(session, f"release:{rel.id}:deploy")
        # The deployments before the release: a report applied in between (PostgreSQL reads what is
        # committed at each statement) moves the release on, never back to `deploying`.
        earlier = await deploys.of_release(session, rel.id)
        await session.refresh(rel)
        title, where = lookup.name(proj.key, rel), lookup.ref_text(proj.key, rel)
        people = await directory.people_by_id(session, [d.created_by_id for d in earlier])
        tags = {c.id: c.tag for c in await candidates.of_release(session, rel.id)}
        busy = [d for d in earlier if d.state in deploys.DEPLOYING]
        if busy or rel.state == State.DEPLOYING.value:
            what = _started(busy[-1], tags, people, now) if busy else "its deploy has not reported back yet"
            raise Conflict(
                f"{title} is already deploying: {what}; nothing was changed.",
                f"`/deploy status {where}` shows it; deploy again once it has succeeded or failed.",
            )
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
                f"`/rc list {where}` lists them.",
            )
        same = [d for d in earlier if d.candidate_id == candidate.id and d.environment == environment]
        recent = [d for d in same if d.state != "refused" and now - d.created_at < JUST_STARTED]
        if recent and not again:
            # Two people (or one double click, or Slack and Discord at once) asking for the same thing.
            raise Conflict(
                f"{_first_up(_started(recent[-1], tags, people, now))}, so this looks like the same request "
                "twice; nothing was changed.",
                f"To deploy {candidate.tag} to {environment} once more, add --again.",
            )
        restarts = await _what_again_restarts(session, project, rel, candidate.tag, same, now)
        if restarts and not again:
            raise Conflict(
                f"{restarts}. Deploying it again runs the deploy pipeline once more and restarts the simmer at "
                "day 0; nothing was changed.",
                f"If that is what you want, add --again: `/deploy start {where} --again`.",
            )
        attempt = len(earlier) + 1
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
        await add_post_deploy_items(session, project, rel, deployment, candidate.tag)
        await audit.record(
            session,
            inv,
            "deploy.start",
            now,
            project_id=proj.id,
            release_id=rel.id,
            person_id=person,
            detail=f"{candidate.tag} to {environment}"
            + ("; again" if again and (recent or restarts) else "")
            + (f"; override: {override}" if override else ""),
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
    once_more = " again" if again and (recent or restarts) else ""
    async with svc.db.write() as session:
        current = await lookup.release_by_id(session, rel.id)
        if await deploys.move(session, deployment.id, ("pending",), "running", run_id=run.run_id, run_url=run.url):
            # Still in flight (a fast CI may have reported already, and moved the release itself).
            await ensure_deploying(session, current, svc.clock.now(), f"{candidate.tag} to {environment}", person)
        await outbox.post_many(
            session,
            project.channels.team,
            Reply(text=f"{inv.member.display} is deploying {candidate.tag} to {environment}{once_more}."),
            key=f"deployment:{deployment.id}:started",
            now=svc.clock.now(),
            skip=inv.channel,
        )
    fields = [Field("Operation", f"`{operation}`")] + ([Field("Run", run.url)] if run.url else [])
    if once_more:
        fields.append(
            Field(
                "Restarts",
                "the deploy pipeline (a new run)"
                + (f", and the simmer at day 0 when the smoke test passes ({restarts})" if restarts else ""),
            )
        )
    return Reply(
        text=f"Deploying {candidate.tag} to {environment}{once_more}.",
        fields=fields,
        footer="The simmer starts when the smoke test passes."
        if not once_more
        else "The simmer starts again, from day 0, when the smoke test passes.",
    )


def _started(deployment, tags: dict[int, str], people: dict, now) -> str:
    """`deployment #1 (v1.3.0-rc1 to production) was started by alice 4s ago and is running`."""
    by = people[deployment.created_by_id].handle if deployment.created_by_id in people else "Tower"
    return (
        f"deployment #{deployment.id} ({tags.get(deployment.candidate_id)} to {deployment.environment}) was "
        f"started by {by} {_ago(now - deployment.created_at)} and is {deployment.state}"
    )


def _ago(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} hours ago"
    return f"{seconds // 86400} days ago"


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _what_again_restarts(session, project, rel, tag: str, same: list, now) -> str:
    """Why deploying this candidate to this environment would be doing it again: it is live there,
    or has passed its simmer there. Empty if neither."""
    live = [d for d in same if d.state in deploys.UP]
    simmer = await deploys.simmer_of(session, rel.id)
    simmered = simmer is not None and any(d.id == simmer.deployment_id for d in same)
    if simmered and simmer is not None and simmer.state == "passed":
        return f"{tag} has passed its simmer on {same[0].environment}"
    if live:
        day = ""
        if simmered and simmer is not None and simmer.state == "running":
            k, n = day_of(simmer.started_at, now, project.simmer_days, project.timezone)
            day = f", simmering: day {k} of {n}"
        return f"{tag} is already live on {live[-1].environment} (deployment #{live[-1].id}{day})"
    return ""


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
        # A failed or refused deployment's failure; a live one's is a retirement that failed.
        failure = d.failure and (f"failed: {d.failure[:120]}" if d.state in ("failed", "refused") else d.failure[:200])
        extra = "".join(
            f" — {x}" for x in (failure, d.run_url, d.archive_url and f"logs archived: {d.archive_url}") if x
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
            Option(
                "again",
                Kind.FLAG,
                "deploy a candidate that is live, has passed its simmer, or was deployed minutes ago "
                "(runs the pipeline again and restarts the simmer at day 0)",
            ),
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
