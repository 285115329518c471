"""The composition root: config → database → services → adapters → run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError

from bot.config import database_url
from bot.integrations.cis import ProjectCIs
from bot.integrations.clock import clock_from_env
from bot.integrations.forges import ProjectForges
from bot.integrations.probes import Prober
from bot.secret_values import secret_values
from commands.catalog import build_registry
from commands.crew.directory import sync_from_settings
from commands.deploy.events import record_ci_event
from commands.engine.dispatch import Dispatcher
from commands.engine.ports import Clock
from commands.engine.services import Services
from commands.engine.settings import Settings
from commands.rules.redaction import Redactor
from storage import migrate
from storage.database import Database, DatabaseError, redacted
from storage.locks import across_processes_on_sqlite

log = logging.getLogger("tower")


class StartupError(Exception):
    """Tower cannot start; the message says why and what to check (never a secret)."""


@dataclass
class Tower:
    services: Services
    dispatcher: Dispatcher
    secrets: Mapping[str, str] = field(default_factory=dict)  # the environment: callback secrets live there

    @property
    def settings(self) -> Settings:
        return self.services.settings

    # The services see CIs and the prober through their ports; closing (and the shell's settle) needs these.
    @property
    def cis(self) -> ProjectCIs:
        assert isinstance(self.services.cis, ProjectCIs), "open_tower wires a ProjectCIs"
        return self.services.cis

    @property
    def prober(self) -> Prober:
        assert isinstance(self.services.prober, Prober), "open_tower wires a Prober"
        return self.services.prober

    async def close(self) -> None:
        await self.cis.close()
        await self.prober.close()
        await self.services.forges.close()
        await self.services.db.close()


async def open_tower(settings: Settings, env: Mapping[str, str], clock: Clock | None = None) -> Tower:
    if clock is None:
        try:
            clock = clock_from_env(env)
        except ValueError as err:
            raise StartupError(str(err)) from None
    from bot.demo import DEMO_SOURCE, ensure_demo_repository

    if settings.source == DEMO_SOURCE:
        await asyncio.to_thread(ensure_demo_repository, settings.data_dir / "demo-repo")
    url = database_url(settings, env)
    try:
        db = Database(url, schema=env.get("TOWER_DATABASE_SCHEMA") or None)
    except DatabaseError as err:
        raise StartupError(str(err)) from None
    try:
        async with across_processes_on_sqlite(db, "start"):
            await migrate.upgrade(db)
            await sync_from_settings(db, settings, clock.now())
    except DATABASE_PROBLEMS as err:
        await db.close()
        raise StartupError(database_problem(url, err)) from None
    cis = ProjectCIs(env, settings.data_dir, db)
    services = Services(
        settings=settings,
        db=db,
        clock=clock,
        registry=build_registry(),
        forges=ProjectForges(env),
        cis=cis,
        prober=Prober(),
        redact=Redactor(secret_values(env, settings)),
    )
    cis.report = lambda event: record_ci_event(services, event)  # local runs report like a CI's callbacks
    return Tower(
        services=services, dispatcher=Dispatcher(services, in_parallel=settings.tower.commands_in_parallel), secrets=env
    )


# What opening a database can fail with: unreachable (OSError), refused (DBAPIError), or a URL
# parameter the driver does not take (TypeError from its connect()).
DATABASE_PROBLEMS = (OSError, DBAPIError, TypeError)


def database_problem(url: str, err: BaseException) -> str:
    reason = getattr(err, "orig", None) or err
    if isinstance(reason, TypeError):
        return f"Can't use the database at {redacted(url)}: the driver does not take a parameter of that URL"
    return f"Can't use the database at {redacted(url)}: {type(reason).__name__}: {_first_line(reason)}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else "no details"
