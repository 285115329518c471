"""“Tests pass on the commit”: Tower asks the CI about the commit a candidate would be cut from and
ticks its own checklist item. GitHub's check runs and commit statuses, GitLab's commit statuses, or,
for a local forge, the project's `tests_command` run on the commit, or what the project's CI
reported on it (a signed `tests.*` callback). The verdict is recorded, so every Tower sees it and a
commit that passed is not tested again."""

from __future__ import annotations

from commands.engine import audit, lookup
from commands.engine.errors import CommandError
from commands.engine.ports import Forge, ForgeError
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.ci_status import FAILED, NONE, PASSED, PENDING, Verdict
from commands.rules.lifecycle import State
from storage.queries import deploys, directory, releases, scope
from storage.tables import CommitCheck

REPORTED = {"tests.passed": PASSED, "tests.failed": FAILED, "tests.pending": PENDING}


class NoOpenRelease(Exception):
    """A CI reported on a project with no open release: nothing to record it on."""


async def refresh(svc: Services, forge: Forge, project: ProjectSettings, release_id: int, sha: str) -> CommitCheck:
    async with svc.db.read() as session:
        known = await scope.last_check(session, release_id, sha)
        newest = await scope.last_check(session, release_id)
    reported_only = project.tests_reported and not project.tests_command
    if known is not None and (known.state == PASSED or reported_only):
        if newest is not None and newest.id == known.id:
            return known
        # Said of this commit before a verdict on another: recorded again, as the checklist shows the newest.
        verdict, source = Verdict(known.state, known.detail), known.source
    elif reported_only:
        verdict, source = Verdict(NONE, "no CI has reported"), "ci"
    else:
        try:
            verdict = await forge.commit_checks(sha)
        except ForgeError as err:
            raise CommandError(
                f"{err} Tower could not learn whether the tests pass on {sha[:10]}; nothing was changed."
            ) from None
        source = project.forge if project.forge != "local" else "command"
    async with svc.db.write() as session:
        return await scope.record_check(
            session,
            release_id=release_id,
            sha=sha,
            state=verdict.state,
            detail=verdict.detail[:2000],
            source=source,
            checked_at=svc.clock.now(),
        )


async def record_report(
    svc: Services, project: ProjectSettings, event: str, sha: str, detail: str | None, delivery: str
) -> str | None:
    """What the project's CI reported on a commit, recorded for the project's newest open release
    with the delivery id, in one transaction. None for a delivery taken before (a replay)."""
    now, state = svc.clock.now(), REPORTED[event]
    async with svc.db.write() as session:
        if not await deploys.first_delivery(session, delivery, now):
            return None
        row = await directory.project_by_key(session, project.key)
        open_states = [s.value for s in State if s.is_open]
        found = await releases.listing(session, project_id=row.id, states=open_states, limit=1) if row else []
        if not found:
            raise NoOpenRelease(project.key)  # rolled back with the delivery: the CI may send it again
        release, _ = found[0]
        said = f"the CI reported: {detail}" if detail else f"the CI reported the tests {state}"
        await scope.record_check(
            session, release_id=release.id, sha=sha, state=state, detail=said[:2000], source="ci", checked_at=now
        )
        await audit.record_event(
            session,
            "tests.reported",
            now,
            source="ci",
            project_id=release.project_id,
            release_id=release.id,
            detail=f"{state} on {sha[:10]}",
        )
    return f"tests {state} on {sha[:10]}, recorded for {lookup.name(project.key, release)}"
