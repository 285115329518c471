"""Which replica runs the scheduler, and which holds the Discord gateway.

Any number of `tower run` processes may share one database; exactly one of them wakes the jobs.
On PostgreSQL the leader holds a session-level advisory lock on a connection of its own: when the
process dies, PostgreSQL ends that session and frees the lock, and a standby, which asks again
every `retry_s` (`election_seconds`), takes over. On SQLite the same role is played by an OS file
lock beside the database file, which the kernel frees when the process dies.

A leader cut off from the database without dying (a partition, a proxy that holds the connection
open and passes nothing) is handled from both sides, on real time: the leader writes a heartbeat
on its lock's connection every `retry_s` and steps down (stops the scheduler) when one does not
answer within `retry_s` (at least a second); a standby that finds the heartbeat silent for longer
than the leader can have gone on (`stale_after`) ends every database session of the silent
holder, which frees the lock, and takes over. Keepalives on the lock's connection, both ways, end a dead peer's session
in seconds rather than the kernel's two hours.

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
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.database import Database
from storage.held_connection import close_held, held_connection, held_engine
from storage.locks import lock_key
from storage.queries import leadership as heartbeats

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
        self._lock: _PostgresLock | _FileLock = (
            _PostgresLock(db, role, retry_s) if db.dialect == "postgresql" else _FileLock(db, role)
        )
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def try_once(self) -> bool:
        """The first ballot, awaited by start-up; `on_gain` is the caller's business this time."""
        try:
            won = await self._ballot()
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
                    if await self._ballot():
                        self.is_leader = True
                        log.info("this replica now holds the %s role", self.role)
                        await self.on_gain()
                else:
                    confirm_s = heartbeats.confirm_within(self.retry_s)
                    try:
                        async with asyncio.timeout(confirm_s):  # real time: the event loop's clock
                            held = await self._lock.still_held()
                    except TimeoutError:
                        raise TimeoutError(f"no answer within {confirm_s:g}s") from None
                    if not held:
                        await self._step_down("lost the lock (database connection gone)")
            except Exception as err:  # the database is down: a standby keeps asking, a leader steps down
                if self.is_leader:
                    await self._step_down(f"can't confirm the lock: {type(err).__name__} {err}".strip())
                else:
                    log.debug("%s election failed: %s", self.role, type(err).__name__)
                await self._lock.release()
            try:
                async with asyncio.timeout(self.retry_s):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    async def _ballot(self) -> bool:
        """Ask for the lock; if a holder has gone silent for too long, fence it and ask again."""
        async with asyncio.timeout(max(5.0, self.retry_s * 2)):
            if await self._lock.acquire():
                return True
            if await self._lock.fence_silent_holder(heartbeats.stale_after(self.retry_s)):
                return await self._lock.acquire()
        return False

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
    def __init__(self, db: Database, role: str, retry_s: float):
        self.key = lock_key(f"{db.schema or 'public'}:{role}")
        self.role, self.holder, self.retry_s = role, db.application_name, retry_s
        # A connection of its own, outside the pool: the lock lives exactly as long as it does.
        self.engine = held_engine(db, retry_s)
        self.conn: AsyncConnection | None = None

    async def acquire(self) -> bool:
        if self.conn is None:
            self.conn = await held_connection(self.engine, self.retry_s)
        got = (await self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar()
        if got:
            await self._beat(self.conn)
        return bool(got)

    async def still_held(self) -> bool:
        """A session-level lock lasts as long as its session: if the connection answers, it is held.
        The answer is the heartbeat standbys and /metrics read."""
        if self.conn is None:
            return False
        await self._beat(self.conn)
        return True

    async def _beat(self, conn: AsyncConnection) -> None:
        await conn.execute(text(heartbeats.BEAT_SQL), {"role": self.role, "holder": self.holder})

    async def fence_silent_holder(self, silence_s: float) -> bool:
        """End the sessions of a holder whose heartbeat is older than `silence_s`; True if any were."""
        if self.conn is None:
            return False
        found = (await self.conn.execute(text(heartbeats.SILENCE_SQL), {"role": self.role})).first()
        if found is None or found[0] == self.holder or float(found[1]) <= silence_s:
            return False
        wait_ms = int(self.retry_s * 1000)
        ended = (await self.conn.execute(text(heartbeats.FENCE_SQL), {"holder": found[0], "wait_ms": wait_ms})).scalar()
        log.warning(
            "the %s holder was silent for %.1fs; ended its %d database sessions", self.role, float(found[1]), ended or 0
        )
        return bool(ended)

    async def release(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:  # closing the session frees the lock; an explicit unlock first is polite
            await close_held(conn, self.retry_s, goodbye=f"SELECT pg_advisory_unlock({int(self.key)})")
        await self.engine.dispose()


class _FileLock:
    def __init__(self, db: Database, role: str):
        self.db, self.role = db, role
        database = db.url.database
        self.path = Path(f"{database}.{role}-lock") if database and database != ":memory:" else None
        self.fd: int | None = None
        self._beating: asyncio.Task | None = None

    async def acquire(self) -> bool:
        if self.path is None:
            return True  # an in-memory database belongs to this process alone
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return await self.still_held()

    async def still_held(self) -> bool:
        # The heartbeat /metrics reads, on the side: a busy SQLite file must not look like a lost lock.
        if self._beating is None or self._beating.done():
            self._beating = asyncio.create_task(self._beat(), name=f"heartbeat {self.role}")
        return True  # the kernel holds it until this process closes it or dies

    async def _beat(self) -> None:
        try:
            async with self.db.write() as session:
                await heartbeats.beat(session, self.role, self.db.application_name)
        except Exception as err:
            log.debug("%s heartbeat not written: %s", self.role, type(err).__name__)

    async def fence_silent_holder(self, silence_s: float) -> bool:
        return False  # the holder is a process on this machine: while it lives, it holds

    async def release(self) -> None:
        if self._beating is not None:
            await asyncio.wait({self._beating}, timeout=2)  # let a write in progress finish
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # closing frees the lock
