"""“Tests pass on the commit”: Tower asks the CI about the commit a candidate would be cut from and
ticks its own checklist item. GitHub's check runs and commit statuses, GitLab's commit statuses, or,
for a local forge, the project's `tests_command` run on the commit. The verdict is recorded, so every
Tower sees it and a commit that passed is not tested again."""

from __future__ import annotations

from commands.engine.errors import CommandError
from commands.engine.ports import Forge, ForgeError
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.rules.ci_status import PASSED
from storage.queries import scope
from storage.tables import CommitCheck


async def refresh(svc: Services, forge: Forge, project: ProjectSettings, release_id: int, sha: str) -> CommitCheck:
    async with svc.db.read() as session:
        known = await scope.last_check(session, release_id, sha)
    if known is not None and known.state == PASSED:
        return known
    try:
        verdict = await forge.commit_checks(sha)
    except ForgeError as err:
        raise CommandError(
            f"{err} Tower could not learn whether the tests pass on {sha[:10]}; nothing was changed."
        ) from None
    async with svc.db.write() as session:
        return await scope.record_check(
            session,
            release_id=release_id,
            sha=sha,
            state=verdict.state,
            detail=verdict.detail[:2000],
            source=project.forge if project.forge != "local" else "command",
            checked_at=svc.clock.now(),
        )
