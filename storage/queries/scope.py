"""Features and their acceptance results, checklist items, milestones."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.queries.bundle import preloaded
from storage.tables import ChecklistItem, CommitCheck, Feature, Milestone, TestResult

# -- features -----------------------------------------------------------------------------------


async def features(session: AsyncSession, release_id: int, include_removed: bool = False) -> list[Feature]:
    loaded = preloaded(session, "feature", release_id)
    if loaded is not None:
        return [f for f in loaded if include_removed or f.state == "active"]
    query = select(Feature).where(Feature.release_id == release_id).order_by(col(Feature.id))
    if not include_removed:
        query = query.where(Feature.state == "active")
    return list((await session.exec(query)).all())


async def add_feature(
    session: AsyncSession,
    *,
    release_id: int,
    title: str,
    tests: list[str],
    now: datetime,
    added_by_id: int | None,
    override: str | None,
) -> Feature:
    feature = Feature(
        release_id=release_id,
        title=title,
        tests=",".join(tests),
        added_at=now,
        added_by_id=added_by_id,
        override=override,
    )
    session.add(feature)
    await session.flush()
    return feature


async def remove_feature(
    session: AsyncSession,
    feature_id: int,
    *,
    now: datetime,
    removed_by_id: int | None,
    reason: str | None,
    override: str | None,
) -> bool:
    result = await session.exec(
        update(Feature)
        .where(col(Feature.id) == feature_id, col(Feature.state) == "active")
        .values(state="removed", removed_at=now, removed_by_id=removed_by_id, reason=reason, override=override)
    )
    return result.rowcount == 1


# -- acceptance results -------------------------------------------------------------------------


async def record_result(
    session: AsyncSession,
    *,
    candidate_id: int,
    test: str,
    outcome: str,
    now: datetime,
    recorded_by_id: int | None,
    source: str = "hand",
    url: str | None = None,
) -> None:
    session.add(
        TestResult(
            candidate_id=candidate_id,
            test=test,
            outcome=outcome,
            recorded_at=now,
            recorded_by_id=recorded_by_id,
            source=source,
            url=url,
        )
    )
    await session.flush()


async def results(session: AsyncSession, candidate_id: int) -> dict[str, str]:
    """The newest outcome of each test on a candidate."""
    loaded = preloaded(session, "test_result", candidate_id)
    if loaded is not None:
        return {row.test: row.outcome for row in loaded}
    rows = await session.exec(
        select(TestResult).where(TestResult.candidate_id == candidate_id).order_by(col(TestResult.id))
    )
    return {row.test: row.outcome for row in rows.all()}


# -- checklist ----------------------------------------------------------------------------------


async def checklist(session: AsyncSession, release_id: int) -> list[ChecklistItem]:
    loaded = preloaded(session, "checklist_item", release_id)
    if loaded is not None:
        return loaded
    query = select(ChecklistItem).where(ChecklistItem.release_id == release_id).order_by(col(ChecklistItem.seq))
    return list((await session.exec(query)).all())


async def add_item(
    session: AsyncSession,
    *,
    release_id: int,
    text: str,
    before: str | None,
    auto: str | None,
    deployment_id: int | None = None,
) -> ChecklistItem:
    last = (await session.exec(select(func.max(ChecklistItem.seq)).where(ChecklistItem.release_id == release_id))).one()
    item = ChecklistItem(
        release_id=release_id, seq=(last or 0) + 1, text=text, before=before, auto=auto, deployment_id=deployment_id
    )
    session.add(item)
    await session.flush()
    return item


async def set_checked(
    session: AsyncSession, item_id: int, checked: bool, *, now: datetime, person_id: int | None, via: str
) -> bool:
    """Tick or untick a manual item; False if it already was (or is automatic)."""
    query = update(ChecklistItem).where(col(ChecklistItem.id) == item_id, col(ChecklistItem.auto).is_(None))
    if checked:
        query = query.where(col(ChecklistItem.checked_at).is_(None)).values(
            checked_at=now, checked_by_id=person_id, checked_via=via
        )
    else:
        query = query.where(col(ChecklistItem.checked_at).is_not(None)).values(
            checked_at=None, checked_by_id=None, checked_via=None
        )
    return (await session.exec(query)).rowcount == 1


# -- milestones ---------------------------------------------------------------------------------


async def milestones(session: AsyncSession, release_id: int) -> list[Milestone]:
    loaded = preloaded(session, "milestone", release_id)
    if loaded is not None:
        return loaded
    query = select(Milestone).where(Milestone.release_id == release_id).order_by(col(Milestone.due), col(Milestone.id))
    return list((await session.exec(query)).all())


async def schedule(
    session: AsyncSession, *, release_id: int, name: str, due: date, now: datetime, created_by_id: int | None
) -> tuple[Milestone, date | None]:
    """Plan a milestone, or move it. Returns it and the date it had before (None: new)."""
    existing = (
        await session.exec(select(Milestone).where(Milestone.release_id == release_id, Milestone.name == name))
    ).first()
    if existing is not None:
        before = existing.due
        existing.due = due
        await session.flush()
        return existing, before
    milestone = Milestone(release_id=release_id, name=name, due=due, created_at=now, created_by_id=created_by_id)
    session.add(milestone)
    await session.flush()
    return milestone, None


async def all_open_milestones(session: AsyncSession, release_ids: list[int]) -> list[Milestone]:
    if not release_ids:
        return []
    query = select(Milestone).where(col(Milestone.release_id).in_(release_ids)).order_by(col(Milestone.due))
    return list((await session.exec(query)).all())


# -- the commit's tests -------------------------------------------------------------------------


async def record_check(session: AsyncSession, **values) -> CommitCheck:
    check = CommitCheck(**values)
    session.add(check)
    await session.flush()
    return check


async def last_check(session: AsyncSession, release_id: int, sha: str | None = None) -> CommitCheck | None:
    """The newest verdict on the release's commit (on `sha`, if given)."""
    loaded = preloaded(session, "commit_check", release_id)
    if loaded is not None:
        matching = [c for c in loaded if sha is None or c.sha == sha]
        return matching[-1] if matching else None
    query = select(CommitCheck).where(CommitCheck.release_id == release_id)
    if sha is not None:
        query = query.where(CommitCheck.sha == sha)
    return (await session.exec(query.order_by(col(CommitCheck.id).desc()).limit(1))).first()
