"""Deployments whose fate is unknown, looked into by whichever Tower process ticks: what may not
have started is found or started (under the same operation id), what runs is polled (a lost callback
must not stall a release; a local run is judged from its run book), retirements that are due are
started and those under way checked on. What a run says is applied as its callbacks would be.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from commands.deploy.events import RETIRE_FAILED, SETTLE, new_operation_id, record_ci_event, run_request
from commands.engine import lookup
from commands.engine.ports import CIError, CIUnavailable, Run
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from storage.queries import candidates, deploys, releases
from storage.tables import Deployment

log = logging.getLogger("tower.deploys")


async def reconcile(svc: Services) -> int:
    """Deployments whose fate is unknown: find or re-trigger what may not have started, poll what
    runs (a lost callback must not stall a release), start the retirements that are due and check
    on the ones under way."""
    now, changed = svc.clock.now(), 0
    async with svc.db.read() as session:
        unsettled = await deploys.in_state(session, (*deploys.IN_FLIGHT, "deployed", "retiring"))  # one read
        due = await deploys.due_retirements(session, now)
    flying = [d for d in unsettled if d.state != "retiring"]
    retiring = [d for d in unsettled if d.state == "retiring"]
    for deployment in flying:
        async with svc.failures.isolated("deploy check", await _owner_key(svc, deployment)):
            changed += await _check_flight(svc, deployment, now)
    for deployment in due:
        async with svc.failures.isolated("retirement", await _owner_key(svc, deployment)):
            changed += await start_retirement(svc, deployment.id, by=None)
    for deployment in retiring:
        async with svc.failures.isolated("retirement check", await _owner_key(svc, deployment)):
            changed += await _check_retirement(svc, deployment, now)
    return changed


async def _owner_key(svc: Services, deployment: Deployment) -> str:
    async with svc.db.read() as session:
        return await releases.project_key_of(session, deployment.release_id)


async def _context(svc: Services, deployment: Deployment):
    async with svc.db.read() as session:
        release = await lookup.release_by_id(session, deployment.release_id)
        project = svc.settings.project((await lookup.project_of(session, release)).key)
        candidate = next(c for c in await candidates.of_release(session, release.id) if c.id == deployment.candidate_id)
    return release, project, candidate


def _keeps_reports(project: ProjectSettings) -> bool:
    """A CI that keeps a run's reports with the run (the local CI's run book): a deployment it has
    deployed, whose smoke test is still to report, is asked about too."""
    return project.ci is not None and project.ci.provider == "local"


async def _check_flight(svc: Services, deployment: Deployment, now: datetime) -> int:
    release, project, candidate = await _context(svc, deployment)
    ci = svc.cis.for_project(project) if project else None
    if ci is None:
        return 0
    assert project is not None  # a CI is only looked up for a configured project
    if deployment.state == "deployed" and not _keeps_reports(project):
        return 0  # its smoke test reports by callback
    if deployment.polled_at and now - deployment.polled_at < _poll_interval(project):
        return 0
    async with svc.db.write() as session:
        await deploys.touch(session, deployment.id, polled_at=now)
    request = run_request(
        svc, project, release, candidate.tag, deployment.operation_id, "deploy", deployment.environment
    )
    try:
        if deployment.state == "pending":
            if now - deployment.created_at < SETTLE:
                return 0
            run = await ci.find(request) or await ci.trigger(request)  # never found: start it, under the same id
            async with svc.db.write() as session:
                await deploys.move(session, deployment.id, ("pending",), "running", run_id=run.run_id, run_url=run.url)
            if not run.events:
                return 1
        else:
            if not deployment.run_id:
                return 0
            run = await ci.status(deployment.run_id)
            if run.run_id != deployment.run_id:  # a placeholder id became the CI's own
                async with svc.db.write() as session:
                    await deploys.touch(session, deployment.id, run_id=run.run_id, run_url=run.url)
    except CIUnavailable:
        return 0  # next time
    except CIError as err:
        async with svc.db.write() as session:
            await deploys.move(
                session, deployment.id, ("pending",), "refused", failure=str(err)[:2000], finished_at=now
            )
        return 1
    return await _apply(svc, deployment.operation_id, run, "deploy")


async def _apply(svc: Services, op: str, run: Run, pipeline: str) -> int:
    """What a polled run says, applied as its callbacks would have been."""
    link = {"run_url": run.url} if run.url else {}
    if run.events:
        for event in run.events:
            await record_ci_event(svc, {**event, "operation_id": op, **link})
        return 1
    if run.status == "succeeded":
        first = "deploy.succeeded" if pipeline == "deploy" else f"{pipeline}.succeeded"
        await record_ci_event(svc, {"operation_id": op, "event": first, **link})
        if pipeline == "deploy":
            await record_ci_event(svc, {"operation_id": op, "event": "smoke.passed"})
        return 1
    if run.status == "failed":
        await record_ci_event(
            svc,
            {"operation_id": op, "event": f"{pipeline}.failed", **link, "detail": run.detail or "the CI run failed"},
        )
        return 1
    return 0


async def _check_retirement(svc: Services, deployment: Deployment, now: datetime) -> int:
    """A retirement under way whose report has not come: its run is looked up, and what it says is
    applied (a failed one returns the deployment to live). The local CI's run is started if no
    process ever claimed it, and judged failed if the process running it stopped."""
    release, project, candidate = await _context(svc, deployment)
    ci = svc.cis.for_project(project) if project else None
    op = deployment.retire_operation_id
    if ci is None or project is None or op is None:
        return 0
    if deployment.polled_at and now - deployment.polled_at < max(SETTLE, _poll_interval(project)):
        return 0
    async with svc.db.write() as session:
        await deploys.touch(session, deployment.id, polled_at=now)
    request = run_request(svc, project, release, candidate.tag, op, "retire", deployment.environment)
    try:
        run = await ci.find(request)
        if run is None and _keeps_reports(project):
            run = await ci.trigger(request)  # claimed once, whoever asks
    except CIError:
        return 0  # next time
    if run is None:
        return 0  # only its callback can tell
    return await _apply(svc, op, run, "retire")


def _poll_interval(project: ProjectSettings) -> timedelta:
    assert project.ci is not None, f"{project.key} has a CI, so it has CI settings"
    return timedelta(seconds=project.ci.poll_seconds)


async def start_retirement(svc: Services, deployment_id: int, by: int | None) -> int:
    """Trigger the retire pipeline for a deployment, once (its operation id is stored first)."""
    now = svc.clock.now()
    async with svc.db.write() as session:
        deployment = await deploys.by_id(session, deployment_id)
        assert deployment is not None, f"deployment {deployment_id} is missing"  # deployments are never deleted
        release = await lookup.release_by_id(session, deployment.release_id)
        project = svc.settings.project((await lookup.project_of(session, release)).key)
        if project is None or project.ci is None:
            return 0  # nothing could retire it: it stays up rather than stuck "retiring"
        # The same operation after an attempt that may have started (the CI did not answer); a new
        # one after an attempt that failed or was refused.
        over = (deployment.failure or "").startswith(RETIRE_FAILED)
        op = (not over and deployment.retire_operation_id) or new_operation_id(
            project.key, str(release.number), "retire"
        )
        if not await deploys.move(
            session, deployment.id, deploys.UP, "retiring", retire_operation_id=op, polled_at=now, failure=None
        ):
            return 0
        candidate = next(c for c in await candidates.of_release(session, release.id) if c.id == deployment.candidate_id)
    ci = svc.cis.for_project(project)
    # Only a project with a CI has deployments (and `/deploy retire` checks it still has one).
    assert ci is not None, f"deployment {deployment.id}: its project has no CI to retire it with"
    request = run_request(svc, project, release, candidate.tag, op, "retire", deployment.environment)
    try:
        await ci.find(request) or await ci.trigger(request)
    except CIUnavailable as err:
        log.warning("retiring deployment %s: %s; it will be retried", deployment.id, err)
        async with svc.db.write() as session:
            await deploys.move(session, deployment.id, ("retiring",), "live", retire_at=now + SETTLE)
    except CIError as err:
        log.warning("retiring deployment %s refused: %s", deployment.id, err)
        async with svc.db.write() as session:
            await deploys.move(
                session,
                deployment.id,
                ("retiring",),
                "live",
                retire_at=None,
                failure=f"{RETIRE_FAILED}{err}"[:2000],
            )
    return 1
