"""The database: an async engine and one transaction per unit of work.

SQLite is the embedded default (WAL, busy timeout, writes in BEGIN IMMEDIATE so concurrent
read-modify-write transactions queue instead of losing updates); PostgreSQL is the production
store. Both are reached through the same `read()` / `write()` transactions.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

BUSY_TIMEOUT_MS = 10_000


class DatabaseError(Exception):
    """The database is unreachable or misconfigured; the message never contains a password."""


def unreachable(err: BaseException) -> bool:
    """The database is away or busy (not a bug): the connection was refused or cut, or no pooled
    connection came free in time, which under load is "busy"."""
    if isinstance(err, (ConnectionError, OperationalError, InterfaceError, PoolTimeout)):
        return True
    return isinstance(err, DBAPIError) and err.connection_invalidated


def normalise_url(url: str) -> URL:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick the async
    driver Tower uses for each."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseError("TOWER_DATABASE_URL is not a database URL (e.g. postgresql://user@host/db)") from None
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise DatabaseError(f"unsupported database {backend!r}: Tower runs on SQLite or PostgreSQL")


def dialect(session: AsyncSession) -> str:
    """The backend a session talks to: "postgresql" or "sqlite" (upserts and locks differ)."""
    return session.get_bind().dialect.name


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


_SECRET_PARAMETER = re.compile(r"(?P<head>[?&](?:[a-z_]*password|passwd|pwd|secret|token)=)[^&#]*", re.IGNORECASE)


def redacted(url: str | URL) -> str:
    """The URL to show in a message or a log: no password, wherever it was written — after the user,
    with '@' left unencoded in it, or as a query parameter."""
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    scheme, sep, rest = text.partition("://")
    if not sep:
        return "(not a database URL)"
    authority_end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    at = rest.rfind("@", 0, authority_end)  # the last '@' before the query: a password may hold others
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}{':***' if colon else ''}{rest[at:]}"
    return _SECRET_PARAMETER.sub(lambda m: f"{m['head']}***", f"{scheme}://{rest}")


class Database:
    def __init__(
        self, url: str, schema: str | None = None, pool_size: int = 5, max_overflow: int = 10, pool_timeout: float = 30
    ):
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self.schema = schema
        # Names this process's sessions on the server: a replica that takes over a role from one gone
        # silent ends every session of that name (its claims and half-done transactions with them).
        self.application_name = f"tower {uuid.uuid4().hex[:12]}"
        if self.dialect == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine: AsyncEngine = create_async_engine(self.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _configure_sqlite(self.engine)
        else:
            connect_args = {"server_settings": self.server_settings()}
            self.engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                pool_pre_ping=True,
                connect_args=connect_args,
            )
        self._reader = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self._writer = async_sessionmaker(
            self.engine.execution_options(tower_write=True), class_=AsyncSession, expire_on_commit=False
        )

    def server_settings(self) -> dict[str, str]:
        """Session settings every PostgreSQL connection of this process starts with."""
        return {"application_name": self.application_name, **({"search_path": self.schema} if self.schema else {})}

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed when the block ends, rolled back if it raises."""
        async with self._writer() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._reader() as session, session.begin():
            yield session

    async def close(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({redacted(self.url)})"


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (below); the sqlite3 module would otherwise defer it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn) -> None:
        # A write takes the lock up front, so two read-modify-write transactions serialise
        # instead of one failing (or silently losing) at its first write.
        immediate = conn.get_execution_options().get("tower_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
