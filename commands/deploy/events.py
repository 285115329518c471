"""What the CI reports — by signed callback, by being polled, or from the local runner — and what
Tower does about it: the simmer starts when the smoke test passes; a failed deploy or smoke test
fails the candidate, pages the pilot and tells the crew what to do next.

Every event names its operation id and only moves a deployment from the state it expects, so a
late, repeated or replayed event changes nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import datetime, timedelta

from commands.engine import audit, lookup, outbox
from commands.engine.ports import ForgeError, RunRequest
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.rules.lifecycle import TRANSITIONS, Action, State
from storage.queries import candidates, deploys, operations, releases, scope
from storage.tables import Deployment, Release

log = logging.getLogger("tower.deploys")
SETTLE = timedelta(seconds=30)  # a pending deploy younger than this may still be in its /deploy start
RETIRE_FAILED = "retire failed: "  # how a live deployment's failure starts when retiring it failed


class UnknownOperation(LookupError):
    pass


DUPLICATE = "duplicate"


def new_operation_id(*parts: str) -> str:
    """Tower's id for a run it asks a CI for: readable, plus 64 random bits nobody can derive, so an
    id seen somewhere (a CI log, a run name) says nothing about the next one."""
    return "-".join(["tower", *parts, secrets.token_hex(8)])


async def operation_owner(svc: Services, op: str) -> str | None:
    """The key of the project an operation belongs to: its secret, and only its, may sign reports
    about it. None for an id Tower never issued."""
    async with svc.db.read() as session:
        deployment = await deploys.by_operation(session, op)
        if deployment is not None:
            release_id: int | None = deployment.release_id
        else:
            recorded = await operations.get(session, op)
            release_id = recorded.release_id if recorded is not None else None
        if release_id is None:
            return None
        return await releases.project_key_of(session, release_id)


async def record_ci_event(svc: Services, event: dict, delivery: str | None = None) -> str:
    """Apply a CI's report; with `delivery`, at most once per delivery id — the id is recorded in
    the same transaction as the change, so a retry or a concurrent twin finds it (DUPLICATE)."""
    event = _redacted(svc, event)
    op, kind = str(event.get("operation_id", "")), str(event.get("event", ""))
    now = svc.clock.now()
    follow_up: list = []
    async with svc.db.write() as session:
        if delivery is not None and not await deploys.first_delivery(session, delivery, now):
            return DUPLICATE
        deployment = await deploys.by_operation(session, op)
        if deployment is None:
            return await _integrate_event(session, svc, op, kind, event, now)
        release = await lookup.release_by_id(session, deployment.release_id)
        project_row = await lookup.project_of(session, release)
        project = svc.settings.project(project_row.key)
        urls = {k: str(event[k])[:1000] for k in ("run_url", "log_url") if event.get(k)}
        if urls:
            await deploys.touch(session, deployment.id, **urls)
        if deployment.retire_operation_id == op:
            outcome = await _retired(session, svc, project, release, deployment, kind, event, now)
        else:
            outcome = await _deploy_event(session, svc, project, release, deployment, kind, event, now, follow_up)
        await audit.record_event(
            session,
            f"ci.{kind}",
            now,
            source="ci",
            project_id=project_row.id,
            release_id=release.id,
            detail=f"deployment #{deployment.id}: {outcome}",
        )
    for task in follow_up:
        await task()
    return outcome


def _redacted(svc: Services, value):
    """A CI's report with secrets taken out of every text it carries (output tails, URLs): what is
    stored here is shown to the team, on pages and on the public release page."""
    if isinstance(value, str):
        return svc.redact(value)
    if isinstance(value, list):
        return [_redacted(svc, v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("operation_id", "event") else _redacted(svc, v) for k, v in value.items()}
    return value


async def _integrate_event(session, svc: Services, op: str, kind: str, event: dict, now: datetime) -> str:
    """The integrate pipeline after a ship: recorded as an operation; a failure is told to the team."""
    recorded = await operations.get(session, op)
    if recorded is None or recorded.kind != "integrate":
        raise UnknownOperation(op)
    assert recorded.release_id is not None, "an integrate operation is started for its release"
    release = await lookup.release_by_id(session, recorded.release_id)
    project = svc.settings.project((await lookup.project_of(session, release)).key)
    if kind == "integrate.succeeded":
        await operations.finish(session, op, json.dumps({"outcome": "succeeded", "run_url": event.get("run_url")}), now)
        return "integrated"
    if kind == "integrate.failed":
        await operations.finish(session, op, json.dumps({"outcome": "failed"}), now)
        assert project is not None, f"{op}: the project is no longer configured"
        note = Reply(
            text=f"The integrate pipeline of {project.key} {release.version} failed: "
            f"{str(event.get('detail') or 'no details')[:300]}",
            ok=False,
        )
        await outbox.post_many(session, project.channels.team, note, key=f"{op}:failed", now=now)
        return "integrate failed"
    return f"ignored ({kind})"


async def _deploy_event(
    session,
    svc,
    project,
    release: Release,
    deployment: Deployment,
    kind: str,
    event: dict,
    now: datetime,
    follow_up: list,
) -> str:
    title = lookup.name(project.key, release)
    candidate = next(c for c in await candidates.of_release(session, release.id) if c.id == deployment.candidate_id)
    if kind == "deploy.running":
        await deploys.move(session, deployment.id, ("pending",), "running")
        return "running"
    if kind == "deploy.succeeded":
        moved = await deploys.move(session, deployment.id, ("pending", "running"), "deployed", finished_at=now)
        return "deployed" if moved else "ignored (not in flight)"
    if kind == "smoke.passed":
        if not await deploys.move(session, deployment.id, ("pending", "running", "deployed"), "live", finished_at=now):
            return "ignored (not deployed)"
        await _start_simmer(session, svc, project, release, deployment, candidate.tag, now)
        if candidate.commit_sha and any(v == "deployed" for v in project.branch_pointers.values()):
            follow_up.append(lambda: _move_pointers(svc, project, "deployed", candidate.commit_sha))
        return "smoke test passed; simmering"
    if kind in ("deploy.failed", "smoke.failed"):
        why = str(event.get("detail") or kind.replace(".", " "))[:2000]
        if not await deploys.move(
            session, deployment.id, ("pending", "running", "deployed"), "failed", failure=why, finished_at=now
        ):
            return "ignored (not in flight)"
        await candidates.set_state(session, candidate.id, "failed")
        await _fail(session, svc, project, release, title, candidate.tag, deployment, kind, why, now)
        return "failed"
    if kind == "acceptance":
        for result in event.get("results") or []:
            if str(result.get("outcome")) in ("pass", "fail"):
                await scope.record_result(
                    session,
                    candidate_id=candidate.id,
                    test=str(result["test"])[:500],
                    outcome=str(result["outcome"]),
                    now=now,
                    recorded_by_id=None,
                    source="ci",
                    url=result.get("url"),
                )
        return f"{len(event.get('results') or [])} acceptance results"
    if kind in ("step", "step.done"):
        # `step.done` (NAME), or `step` with an outcome: a post-deploy step of this deployment.
        name = str(event.get("name", ""))
        done = kind == "step.done" or event.get("outcome") in ("passed", "done", "succeeded")
        text = step_text(name, candidate.tag, deployment.environment)
        for item in await scope.checklist(session, release.id):
            # Items recorded before they belonged to a deployment have none, and match by their text.
            if item.text == text and item.deployment_id in (deployment.id, None):
                await scope.set_checked(session, item.id, done, now=now, person_id=None, via="ci")
                return f"step {name}: {'done' if done else 'not done'}"
        return f"step {name}: unknown"
    return f"ignored (unknown event {kind!r})"


async def _start_simmer(
    session, svc: Services, project, release: Release, deployment: Deployment, tag: str, now: datetime
) -> None:
    await deploys.end_simmers(session, release.id, "superseded")  # a new candidate restarts the clock
    for earlier in await deploys.of_release(session, release.id, states=deploys.UP):
        if earlier.id != deployment.id and earlier.environment == deployment.environment:
            await deploys.move(session, earlier.id, deploys.UP, "superseded")
    await deploys.start_simmer(
        session,
        release_id=release.id,
        deployment_id=deployment.id,
        now=now,
        ends_at=now + timedelta(days=project.simmer_days),
    )
    if await ensure_deploying(session, release, now, f"{tag} to {deployment.environment}", deployment.created_by_id):
        await releases.move(
            session,
            release,
            to_state=State.SIMMERING.value,
            action=Action.SMOKE_PASSED.value,
            actor_id=None,
            now=now,
            reason=f"{tag} on {deployment.environment}",
        )
    title = lookup.name(project.key, release)
    days = f"{project.simmer_days:g} days" if project.simmer_days != 1 else "1 day"
    note = Reply(
        text=f"{tag} is live on {deployment.environment}; {title} simmers for {days}.",
        footer=f"`/simmer status {lookup.ref_text(project.key, release)}`",
    )
    await outbox.post_many(session, project.channels.team, note, key=f"deployment:{deployment.id}:live", now=now)


async def _fail(
    session,
    svc: Services,
    project,
    release: Release,
    title: str,
    tag: str,
    deployment: Deployment,
    kind: str,
    why: str,
    now: datetime,
) -> None:
    from commands.crew.paging import open_page  # paging imports this module's neighbours; late import keeps it one-way

    if await ensure_deploying(session, release, now, f"{tag} to {deployment.environment}", deployment.created_by_id):
        await releases.move(
            session,
            release,
            to_state=State.FAILED.value,
            action=Action.DEPLOY_FAILED.value,
            actor_id=None,
            now=now,
            reason=f"{tag}: {why[:200]}",
        )
    step = "smoke test" if kind == "smoke.failed" else "deploy"
    ref = lookup.ref_text(project.key, release)
    nxt = f"`/rc cut {ref} --patch`" if project.tag_scheme == "rc" else f"`/rc cut {ref}` (the next build)"
    await open_page(
        svc,
        project,
        release,
        f"the {step} of {tag} on {deployment.environment} failed: {why[:300]}",
        source=kind.replace(".", "-"),
        created_by_id=None,
        session=session,
    )
    note = Reply(
        text=f"The {step} of {tag} on {deployment.environment} failed: {why[:300]}",
        ok=False,
        footer=f"Next: fix it and cut the next candidate with {nxt}, then `/deploy start {ref}`.",
    )
    await outbox.post_many(session, project.channels.team, note, key=f"deployment:{deployment.id}:failed", now=now)


def step_text(step: str, tag: str, environment: str) -> str:
    return f"{step} ({tag} on {environment})"


async def add_post_deploy_items(session, project, release: Release, deployment: Deployment, tag: str) -> None:
    """The project's post-deploy steps as checklist items of this deployment, blocking the ship. They
    exist from the start, so the CI may tick one whenever it is done; a deployment that fails, is
    replaced or retired leaves its items void."""
    for step in project.post_deploy_steps:
        await scope.add_item(
            session,
            release_id=release.id,
            text=step_text(step, tag, deployment.environment),
            before="ship",
            auto=None,
            deployment_id=deployment.id,
        )


async def ensure_deploying(session, release: Release, now: datetime, reason: str, actor_id: int | None = None) -> bool:
    """Bring the release to `deploying` if the CI outran the command that started it (a fast local run
    finishes before `/deploy start` records its own transition). False if it cannot be."""
    await session.refresh(release)  # the command that started the deploy may have moved it meanwhile
    if release.state == State.DEPLOYING.value:
        return True
    if (State(release.state), Action.DEPLOY) not in TRANSITIONS:
        return False
    return await releases.move(
        session,
        release,
        to_state=State.DEPLOYING.value,
        action=Action.DEPLOY.value,
        actor_id=actor_id,  # the person who asked for the deploy, whichever process records it
        now=now,
        reason=reason,
    )


async def _retired(
    session, svc: Services, project, release: Release, deployment: Deployment, kind: str, event: dict, now: datetime
) -> str:
    if kind == "retire.failed":
        why = str(event.get("detail") or "the retire pipeline failed")[:2000]
        # Back to live, its failure shown, so it can be retired again (under a new operation: this
        # one is over). Not again on its own: a person looks first.
        if not await deploys.move(
            session, deployment.id, ("retiring",), "live", failure=f"{RETIRE_FAILED}{why}"[:2000], retire_at=None
        ):
            return "ignored (not retiring)"
        note = Reply(
            text=f"Retiring the {project.key} {release.version} deployment on {deployment.environment} failed: "
            f"{why[:300]}",
            ok=False,
            footer=f"It is still live. Try again with `/deploy retire {lookup.ref_text(project.key, release)}`, "
            "or retire it by hand.",
        )
        await outbox.post_many(
            session,
            project.channels.team,
            note,
            key=f"deployment:{deployment.id}:retire-failed:{event.get('operation_id')}",
            now=now,
        )
        return "retire failed"
    if kind not in ("retire.succeeded", "retire.done"):
        return "retiring"
    archive = str(event.get("archive") or event.get("archive_url") or event.get("log_url") or "")[:1000] or None
    if not await deploys.move(
        session, deployment.id, ("retiring",), "retired", retired_at=now, archive_url=archive, failure=None
    ):
        return "ignored (not retiring)"
    if release.state == State.RELEASED.value and not await deploys.of_release(
        session, release.id, states=(*deploys.UP, "retiring")
    ):
        await releases.move(
            session,
            release,
            to_state=State.RETIRED.value,
            action=Action.RETIRE.value,
            actor_id=None,
            now=now,
            reason=f"{deployment.environment} retired" + (f"; logs: {archive}" if archive else ""),
            closes=True,
        )
    note = Reply(
        text=f"Retired the {project.key} {release.version} deployment on {deployment.environment}."
        + (f" Logs archived: {archive}" if archive else "")
    )
    await outbox.post_many(session, project.channels.team, note, key=f"deployment:{deployment.id}:retired", now=now)
    return "retired"


async def _move_pointers(svc: Services, project, when: str, sha: str) -> None:
    forge = svc.forges.for_project(project)
    for branch, moment in project.branch_pointers.items():
        if moment == when:
            try:
                await forge.move_branch(branch, sha)
            except ForgeError as err:
                log.warning("%s: could not move %s to %s: %s", project.key, branch, sha[:10], err)


def run_request(
    svc: Services, project, release: Release, tag: str, operation_id: str, pipeline: str, environment: str | None
) -> RunRequest:
    base = svc.settings.tower.public_url
    return RunRequest(
        operation_id=operation_id,
        pipeline=pipeline,
        project=project.key,
        version=release.version or "",
        tag=tag,
        environment=environment,
        callback_url=f"{base.rstrip('/')}/hooks/ci" if base else None,
    )
