"""Which replica runs the scheduler, and which holds the Discord gateway.

Any number of `tower run` processes may share one database; exactly one of them wakes the jobs.
On PostgreSQL the leader holds a session-level advisory lock on a connection of its own: when the
process dies, PostgreSQL ends that session and frees the lock, and a standby, which asks again
every few seconds, takes over. On SQLite the same role is played by an OS file lock beside the
database file, which the kernel frees when the process dies.

Leadership only decides who *wakes* the work. The work itself stays safe to run twice (claims,
leases and idempotency keys in the tables), which covers the moment when a leader that lost its
connection has not yet noticed.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from storage.database import Database
from storage.locks import lock_key

log = logging.getLogger("tower.leader")

Hook = Callable[[], Awaitable[None]]


class Leadership:
    """Campaigns for the lock called `role` until stopped; calls `on_gain` and `on_loss` as it changes.

    Tower elects two roles: "scheduler" (wakes the jobs, publishes the pages) and "discord" (holds
    the gateway connection, which Discord would otherwise deliver every interaction to twice)."""

    def __init__(self, db: Database, on_gain: Hook, on_loss: Hook, retry_s: float = 5.0, role: str = "scheduler"):
        self.db, self.role = db, role
        self.on_gain, self.on_loss = on_gain, on_loss
        self.retry_s = retry_s  # how often a standby asks, and how often the leader checks its hold
        self.is_leader = False
        self._lock = _PostgresLock(db, role) if db.dialect == "postgresql" else _FileLock(db, role)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def try_once(self) -> bool:
        """The first ballot, awaited by start-up; `on_gain` is the caller's business this time."""
        try:
            won = await self._lock.acquire()
        except Exception as err:
            log.warning("%s election failed: %s", self.role, type(err).__name__)
            await self._lock.release()
            won = False
        self.is_leader = won
        return won

    def start(self) -> None:
        self._task = asyncio.create_task(self._campaign(), name=f"leadership {self.role}")

    async def stop(self) -> None:
        """Step down (`on_loss` runs first, then the lock goes) and stop campaigning."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self.is_leader:
            await self._step_down("shutting down", quietly=True)
        else:
            await self._lock.release()  # a standby holds a connection too, asking for the lock

    async def _campaign(self) -> None:
        while not self._stopping.is_set():
            try:
                if not self.is_leader:
                    if await self._lock.acquire():
                        self.is_leader = True
                        log.info("this replica now holds the %s role", self.role)
                        await self.on_gain()
                elif not await self._lock.still_held():
                    await self._step_down("lost the lock (database connection gone)")
            except Exception as err:  # the database is down: a standby keeps asking, a leader steps down
                if self.is_leader:
                    await self._step_down(f"can't confirm the lock: {type(err).__name__}")
                else:
                    log.debug("%s election failed: %s", self.role, type(err).__name__)
                await self._lock.release()
            try:
                async with asyncio.timeout(self.retry_s):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    async def _step_down(self, why: str, quietly: bool = False) -> None:
        log.log(
            logging.INFO if quietly else logging.WARNING, "this replica no longer holds the %s role: %s", self.role, why
        )
        self.is_leader = False
        try:
            await self.on_loss()
        finally:
            await self._lock.release()


class _PostgresLock:
    def __init__(self, db: Database, role: str):
        self.key = lock_key(f"{db.schema or 'public'}:{role}")
        # A connection of its own, outside the pool: the lock lives exactly as long as it does.
        args = {"server_settings": {"search_path": db.schema}} if db.schema else {}
        self.engine = create_async_engine(db.url, poolclass=NullPool, connect_args={"timeout": 5, **args})
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.conn is None:
            self.conn = await (await self.engine.connect()).execution_options(isolation_level="AUTOCOMMIT")
        got = (await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar()
        return bool(got)

    async def still_held(self) -> bool:
        """A session-level lock lasts as long as its session: if the connection answers, it is held."""
        if self.conn is None:
            return False
        async with asyncio.timeout(5):
            await self.conn.execute(text("SELECT 1"))
        return True

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:  # closing the session frees the lock; an explicit unlock first is polite
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            except Exception:
                pass
            try:
                await conn.close()
            except Exception:
                pass
        await self.engine.dispose()


class _FileLock:
    def __init__(self, db: Database, role: str):
        database = db.url.database
        self.path = Path(f"{database}.{role}-lock") if database and database != ":memory:" else None
        self.fd: int | None = None

    async def acquire(self) -> bool:
        if self.path is None:
            return True  # an in-memory database belongs to this process alone
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    async def still_held(self) -> bool:
        return True  # the kernel holds it until this process closes it or dies

    async def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing frees the lock
