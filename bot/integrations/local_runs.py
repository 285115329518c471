"""The run book of the local CI: what this process runs, told to every other process through the
database.

A local run lives in the process that started its command, but any Tower process sharing the
database may be the one that checks on the deployment (a `tower shell` beside `tower run`, a
second replica). So the owner claims the operation in `local_run` before the command starts
(once: a second claim finds the row and runs nothing), heartbeats it every few seconds on real
wall time while it runs — from a thread of its own, so a shell waiting at its prompt still
counts as alive — and closes it with the result. Everyone else judges the run from that row
alone: heartbeating, it runs; closed, its result applies; silent (or its process gone from this
machine), the Tower process running it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.database import Database
from storage.queries import local_runs
from storage.tables import LocalRun

log = logging.getLogger("tower.ci")

HEARTBEAT_S = 2.0  # how often the owner says it is alive
STALE_AFTER = timedelta(seconds=20)  # silent this long (ten heartbeats missed): its process is gone
STOPPED = "the Tower process running it stopped"


def wall_now() -> datetime:
    """Real time, whatever clock Tower rehearses on: a heartbeat says whether a process lives."""
    return datetime.now(UTC)


def this_machine() -> str:
    """The host, and the process namespace where Linux has one: a pid names a process only there."""
    host = socket.gethostname()
    try:
        return f"{host} pid-ns:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return host


def process_alive(pid: int) -> bool:
    """Whether a process of this machine lives (a killed one not yet reaped by its parent does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@dataclass(frozen=True)
class Verdict:
    """A local run as this process sees it: running, finished (with its row), or stopped (its owner
    is gone and it was closed as failed just now, or earlier by someone else)."""

    state: str  # running, finished
    run: LocalRun


class RunBook:
    def __init__(self, db: Database, heartbeat_s: float = HEARTBEAT_S):
        self.db = db
        self.heartbeat_s = heartbeat_s
        self.pid, self.host, self.token = os.getpid(), this_machine(), secrets.token_hex(16)
        self._live: dict[str, str] = {}  # operation id → pipeline, of the runs this process has going
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the owner's side ----------------------------------------------------------------------

    async def claim(self, operation_id: str, pipeline: str) -> bool:
        """Record that this process runs the operation; False if a run of it is already recorded."""
        async with self.db.write() as session:
            claimed = await local_runs.claim(
                session,
                operation_id=operation_id,
                pipeline=pipeline,
                pid=self.pid,
                host=self.host,
                token=self.token,
                now=wall_now(),
            )
        if claimed:
            with self._guard:
                self._live[operation_id] = pipeline
            self._start_heartbeats()
        return claimed

    async def finish(
        self, operation_id: str, *, ok: bool, step: str, exit_code: int | None, output: str, archive: str | None = None
    ) -> None:
        try:
            async with self.db.write() as session:
                await local_runs.finish(
                    session,
                    operation_id,
                    status="succeeded" if ok else "failed",
                    step=step,
                    exit_code=exit_code,
                    output=output,
                    archive=archive,
                    now=wall_now(),
                    token=self.token,
                )
        finally:
            with self._guard:
                self._live.pop(operation_id, None)

    async def abandon(self) -> None:
        """This process is shutting down with runs unfinished (their commands were stopped): close
        them as failed now rather than leave the others to wait for the heartbeat to go stale."""
        with self._guard:
            left = dict(self._live)
        for operation_id, pipeline in left.items():
            try:
                async with self.db.write() as session:
                    await local_runs.finish(
                        session,
                        operation_id,
                        status="failed",
                        step=pipeline,
                        exit_code=None,
                        output=f"{STOPPED} before it finished",
                        now=wall_now(),
                        token=self.token,
                    )
            except Exception:
                log.warning("local CI: could not close the run %s; it goes stale instead", operation_id)
        with self._guard:
            self._live.clear()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_s * 5)
            self._thread = None

    def _start_heartbeats(self) -> None:
        with self._guard:
            if self._thread is not None or self._stopping.is_set():
                return
            self._thread = threading.Thread(target=self._heartbeats, name="tower local-run heartbeat", daemon=True)
            self._thread.start()

    def _heartbeats(self) -> None:
        """On a thread with its own event loop and connection: the runs stay alive while this process
        does, even when its own loop is idle (a shell at its prompt) or busy."""
        loop = asyncio.new_event_loop()
        db = Database(self.db.url.render_as_string(hide_password=False), schema=self.db.schema, pool_size=1)
        try:
            while not self._stopping.wait(self.heartbeat_s):
                with self._guard:
                    live = list(self._live)
                if live:
                    try:
                        loop.run_until_complete(self._beat(db, live))
                    except Exception as err:  # the database is away for a moment: the next beat tries again
                        log.warning("local CI heartbeat failed (%s); trying again", type(err).__name__)
        finally:
            loop.run_until_complete(db.close())
            loop.close()

    async def _beat(self, db: Database, live: list[str]) -> None:
        async with db.write() as session:
            await local_runs.beat(session, self.token, live, wall_now())

    # -- anyone's side -------------------------------------------------------------------------

    async def judge(self, operation_id: str) -> Verdict | None:
        """The run of this operation as its row says; None if no run of it was ever recorded. A
        run whose process is gone is closed as failed here, once, so every process agrees."""
        async with self.db.read() as session:
            run = await local_runs.get(session, operation_id)
        if run is None:
            return None
        if run.status != "running":
            return Verdict("finished", run)
        if self._alive(run):
            return Verdict("running", run)
        async with self.db.write() as session:
            await local_runs.finish(
                session,
                operation_id,
                status="failed",
                step=run.pipeline,
                exit_code=None,
                output=STOPPED,
                now=wall_now(),
            )
            closed = await local_runs.get(session, operation_id)
        assert closed is not None, "local runs are never deleted"
        log.warning("local CI: %s was run by %s (pid %s), which stopped", operation_id, run.owner_host, run.owner_pid)
        return Verdict("finished", closed)

    def _alive(self, run: LocalRun) -> bool:
        if run.owner_token == self.token:
            with self._guard:
                return run.operation_id in self._live
        if run.owner_host == self.host and not process_alive(run.owner_pid):
            return False
        return wall_now() - run.heartbeat_at < STALE_AFTER
