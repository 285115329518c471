"""Child processes for the benchmarks, started and stopped without blocking the event loop.

The fakes that Tower talks to run on the benchmark's own loop, so waiting for a child with a
blocking call would stop them from answering the child's shutdown and leave it behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Sequence

STOP_SECONDS = 20.0


async def run(argv: Sequence[str], env: dict[str, str]) -> None:
    """Run a command to its end; fail with its output if it fails."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(argv), out)


async def start(
    argv: Sequence[str], env: dict[str, str] | None = None, quiet: bool = True
) -> asyncio.subprocess.Process:
    devnull = asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=devnull if quiet else None, stderr=devnull if quiet else None
    )


async def stop(*procs: asyncio.subprocess.Process) -> None:
    """SIGTERM each, wait for all while the loop keeps serving, SIGKILL what is still there."""
    for proc in procs:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
    waits = [asyncio.wait_for(proc.wait(), STOP_SECONDS) for proc in procs]
    for proc, outcome in zip(procs, await asyncio.gather(*waits, return_exceptions=True), strict=True):
        if isinstance(outcome, BaseException) and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
