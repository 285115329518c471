"""Is a release ready for its next step? The checklist with its automatic items, and the gates."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.errors import CommandError
from commands.engine.settings import ProjectSettings
from commands.rules.checklist import (
    AUTO_ITEMS,
    Facts,
    ItemView,
    acceptance_gaps,
    auto_checked,
    missing,
    note_of,
    refusal,
    void_reason,
)
from storage.queries import candidates, deploys, scope
from storage.tables import Release


def template(project: ProjectSettings) -> list[tuple[str, str | None, str | None]]:
    """(text, before, auto) of a new release's checklist: Tower's own items, then the project's."""
    rows = []
    for key, text, before in AUTO_ITEMS:
        if key == "scope-frozen" and not project.require_freeze:
            continue
        if key == "simmer-passed" and project.ci is None:
            continue  # nothing to simmer: the project does not deploy
        if key == "tests-green" and not project.require_tests:
            continue
        rows.append((text, before, key))
    return rows + [(item.text, item.before, None) for item in project.checklist]


async def ensure_checklist(session: AsyncSession, project: ProjectSettings, release: Release) -> None:
    """Copy the template into a release once (in a write transaction)."""
    if await scope.checklist(session, release.id):
        return
    for text, before, auto in template(project):
        await scope.add_item(session, release_id=release.id, text=text, before=before, auto=auto)


async def facts(session: AsyncSession, release: Release) -> Facts:
    cut = await candidates.of_release(session, release.id, states=("cut", "deployed", "failed"))
    # A feature without tests cannot be shown ready: it is tested, dropped, or shipped past with a
    # recorded override (`/release ship --override`).
    features = [
        (f.id, f.title, [t for t in f.tests.split(",") if t]) for f in await scope.features(session, release.id)
    ]
    gaps = acceptance_gaps(features, await scope.results(session, cut[-1].id) if cut else {})
    simmer = await deploys.simmer_of(session, release.id)
    check = await scope.last_check(session, release.id)
    return Facts(
        named=release.version is not None,
        scope_frozen=release.scope_frozen_at is not None,
        tag_exists=bool(cut),
        acceptance_green=bool(cut) and not gaps,
        simmer_passed=simmer is not None and simmer.state == "passed",
        acceptance_gaps="; ".join(gaps),
        tests_green=check is not None and check.state == "passed",
        tests_note="not checked yet" if check is None else f"{check.detail} on {check.sha[:10]}",
    )


async def items(session: AsyncSession, project: ProjectSettings, release: Release) -> list[ItemView]:
    """The checklist as it stands; a release that never had it stored reads as the template."""
    known = await facts(session, release)
    stored = await scope.checklist(session, release.id)
    if not stored:
        return [
            ItemView(
                n,
                text,
                before,
                auto,
                auto_checked(auto, known) if auto else False,
                note_of(auto, known),
            )
            for n, (text, before, auto) in enumerate(template(project), 1)
        ]
    states = {d.id: d.state for d in await deploys.of_release(session, release.id)}
    return [
        ItemView(
            i.seq,
            i.text,
            i.before,
            i.auto,
            auto_checked(i.auto, known) if i.auto else i.checked_at is not None,
            note_of(i.auto, known),
            void_reason(i.deployment_id, states.get(i.deployment_id) if i.deployment_id else None),
        )
        for i in stored
    ]


async def require(session: AsyncSession, project: ProjectSettings, release: Release, step: str) -> None:
    """Refuse the step, listing exactly what is missing."""
    absent = missing(step, await items(session, project, release))
    if absent:
        raise CommandError(refusal(step, absent), f"`/checklist show {project.key}` shows the whole list.")


async def blocking(session: AsyncSession, project: ProjectSettings, release: Release, step: str) -> list[ItemView]:
    return missing(step, await items(session, project, release))
