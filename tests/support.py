"""Helpers shared by the tests: settings, running commands, and snapshots of what is stored."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.demo import demo_settings
from commands.engine.context import Caller
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from storage.database import Database
from storage.tables import metadata


def make_settings(data_dir: Path, **changes: object) -> Settings:
    """The demo team and project, without creating the demo git repository. No blackout days: the
    fake clock starts on a Friday, and tests of blackout days set their own."""
    base = demo_settings(data_dir).model_dump()
    base["projects"]["demo"]["blackout_weekdays"] = []
    base.update(changes)
    base["source"] = "tests"
    return Settings.model_validate(base)


def console(person: str | None = "alice") -> Caller:
    return Caller(platform="console", user_id=person or "guest")


def slack(user_id: str, channel: str = "slack:C0TEAM001") -> Caller:
    return Caller(platform="slack", user_id=user_id, channel=channel)


async def run(tower, text: str, as_: str | None = "alice", caller: Caller | None = None) -> Reply:
    return await tower.dispatcher.run(text, caller or console(as_))


# What Tower remembers of a request itself, not of what it did: a refused request is still one it
# heard, and a replay of it must be recognised.
BOOKKEEPING = {"taken_request"}


async def snapshot(db: Database) -> dict[str, object]:
    """Row counts of every table and the newest audit entry: equal snapshots mean nothing changed."""
    counts: dict[str, object] = {}
    async with db.read() as session:
        for table in metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            counts[table.name] = (await session.exec(select(func.count()).select_from(table))).one()[0]
        state = metadata.tables["release"]
        rows = (await session.exec(select(state.c.id, state.c.state, state.c.version))).all()
        counts["release states"] = sorted(tuple(r) for r in rows)
    return counts
