"""A release's rows from every table that hangs off it, in one statement, for read commands that
show them all (`/release status`, `/simmer status`, `/deploy status`).

Each table contributes a SELECT of its rows as JSON objects; the SELECTs are joined by UNION ALL,
so the database answers once. The rows are kept in the session's `info` for the rest of the read
transaction, and the per-table query functions (candidates.of_release, scope.features, …) answer
from them instead of asking again. Only for read transactions: nothing here sees a later write.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, literal_column, select, union_all
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import dialect
from storage.tables import (
    Candidate,
    ChecklistItem,
    CommitCheck,
    Deployment,
    Feature,
    Milestone,
    Page,
    Simmer,
    TestResult,
    Transition,
    UTCDateTime,
)

KEY = "tower_release_rows"
BY_RELEASE: tuple[type[SQLModel], ...] = (
    Transition,
    Candidate,
    Feature,
    Milestone,
    ChecklistItem,
    Deployment,
    Simmer,
    Page,
    CommitCheck,
)
# The order each table's query functions return rows in.
ORDER = {
    "milestone": lambda m: (m.due, m.id),
    "candidate": lambda c: c.seq,
    "checklist_item": lambda i: i.seq,
}


async def preload(session: AsyncSession, release_id: int) -> None:
    """Load the release's rows (and its candidates' test results) in one statement."""
    found: dict[tuple[str, int], list[Any]] = defaultdict(list)
    for model in BY_RELEASE:
        found[(model.__tablename__, release_id)] = []  # type: ignore[index]
    results = []
    query = _release_rows(dialect(session))
    rows = (await session.exec(query, params={"release_id": release_id})).all()  # type: ignore[call-overload]
    for table, raw in rows:
        data = json.loads(raw) if isinstance(raw, str) else raw
        if table == "test_result":
            results.append(_instance(TestResult, data))
        else:
            model = next(m for m in BY_RELEASE if m.__tablename__ == table)
            found[(table, release_id)].append(_instance(model, data))
    for candidate in found[("candidate", release_id)]:
        found[("test_result", candidate.id)] = []
    for result in results:
        found[("test_result", result.candidate_id)].append(result)
    for (table, _), rows in found.items():
        rows.sort(key=ORDER.get(table, lambda r: r.id))
    session.info[KEY] = dict(found)


def preloaded(session: AsyncSession, table: str, owner_id: int) -> list[Any] | None:
    """The rows of `table` belonging to a release (a candidate for test results) if preloaded, else None."""
    rows = session.info.get(KEY, {}).get((table, owner_id))
    return None if rows is None else list(rows)


@functools.cache
def _release_rows(backend: str) -> sa.CompoundSelect:
    """The statement, built once per backend (building it costs more than running it)."""
    release_id = sa.bindparam("release_id", type_=sa.Integer)
    parts = [_rows_of(backend, model).where(model.__table__.c.release_id == release_id) for model in BY_RELEASE]  # type: ignore[attr-defined]
    candidate_ids = select(col(Candidate.id)).where(col(Candidate.release_id) == release_id)
    parts.append(_rows_of(backend, TestResult).where(col(TestResult.candidate_id).in_(candidate_ids)))
    return union_all(*parts)


def _rows_of(backend: str, model: type[SQLModel]) -> sa.Select:
    table = model.__table__  # type: ignore[attr-defined]
    pairs: list[Any] = []
    for column in table.columns:
        pairs += [sa.literal_column(f"'{column.name}'"), column]
    as_json = func.json_build_object if backend == "postgresql" else func.json_object
    return select(literal_column(f"'{table.name}'").label("tbl"), as_json(*pairs).label("row")).select_from(table)


def _instance(model: type[SQLModel], data: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for column in model.__table__.columns:  # type: ignore[attr-defined]
        value = data.get(column.name)
        if value is not None:
            value = _typed(column.type, value)
        values[column.name] = value
    return model(**values)


def _typed(kind: sa.types.TypeEngine, value: Any) -> Any:
    if isinstance(kind, UTCDateTime | sa.DateTime):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(kind, sa.Date):
        return date.fromisoformat(value[:10])
    if isinstance(kind, sa.Boolean):
        return bool(value)
    if isinstance(kind, sa.JSON) and isinstance(value, str):
        return json.loads(value)
    return value
