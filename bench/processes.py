"""Child processes for the benchmarks, started and stopped without blocking the event loop.

The fakes that Tower talks to run on the benchmark's own loop, so waiting for a child with a
blocking call would stop them from answering the child's shutdown and leave it behind. Each child
leads a process group of its own, so stopping it also stops what it started (a `tower` wrapper's
Python, a CI command), and `started()` stops everything it started however the benchmark ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence

STOP_SECONDS = 20.0
RUN_SECONDS = 120.0


async def run(argv: Sequence[str], env: dict[str, str], timeout: float = RUN_SECONDS) -> None:
    """Run a command to its end; fail with its output if it fails or outlasts `timeout` (then it is killed)."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        await stop(proc, grace=0)  # nothing left behind: a timeout, a failure or Ctrl-C
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(argv), out)


async def start(
    argv: Sequence[str], env: dict[str, str] | None = None, quiet: bool = True
) -> asyncio.subprocess.Process:
    devnull = asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdout=devnull if quiet else None,
        stderr=devnull if quiet else None,
        start_new_session=True,  # its own process group: stop() reaches its children too
    )


@contextlib.asynccontextmanager
async def started(
    *argvs: Sequence[str], env: dict[str, str] | None = None, grace: float = STOP_SECONDS
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """Start each command; on leaving — normally, on an error, on Ctrl-C, or when a later one fails
    to start — stop every one that was started."""
    procs: list[asyncio.subprocess.Process] = []
    try:
        for argv in argvs:
            procs.append(await start(argv, env))
        yield procs
    finally:
        await stop(*procs, grace=grace)


def _signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the child leads its group (start_new_session)


async def stop(*procs: asyncio.subprocess.Process, grace: float = STOP_SECONDS) -> None:
    """SIGTERM each process group, wait for all while the loop keeps serving, SIGKILL what is still
    there after `grace` seconds. The groups are killed even when their leader has exited, so a
    grandchild never outlives the benchmark."""
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    waits = [asyncio.wait_for(proc.wait(), grace) for proc in procs]
    await asyncio.gather(*waits, return_exceptions=True)
    for proc in procs:
        _signal_group(proc, signal.SIGKILL)
        await asyncio.shield(proc.wait())


async def serve_in_child(module: str, *args: str) -> tuple[asyncio.subprocess.Process, str]:
    """Start `python -m module args…`, a fake that prints "ready URL" once listening; returns the
    process and the URL."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    if line[:1] != ["ready"]:
        await stop(proc, grace=0)
        raise RuntimeError(f"{module} did not start: {line}")
    return proc, line[1]


async def stop_child(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        await proc.wait()
