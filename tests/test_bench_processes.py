"""The benchmarks' child processes: waited for without blocking the loop the fakes answer on, and
stopped — with whatever they started — however the benchmark ends."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from bench import processes

# Like `tower run` at SIGTERM: it says goodbye to a server on the benchmark's loop before exiting.
POLITE = """
import signal, sys, time, urllib.request
def bye(*_):
    urllib.request.urlopen(sys.argv[1], timeout=10).read()
    sys.exit(0)
signal.signal(signal.SIGTERM, bye)
print("ready", flush=True)
time.sleep(300)
"""

# Ignores SIGTERM and has started a grandchild of its own, which writes its pid down.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
open(sys.argv[1], "w").write(str(child.pid))
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's bookkeeping is left


async def _wait_for(path: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        await asyncio.sleep(0.05)
    return path.read_text()


async def test_stopping_a_child_lets_the_loop_answer_its_goodbye():
    goodbyes = []

    async def goodbye(request: web.Request) -> web.Response:
        goodbyes.append(request.path)
        return web.Response(text="bye")

    app = web.Application()
    app.router.add_get("/bye", goodbye)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        env = {"PATH": os.environ.get("PATH", "")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            POLITE,
            f"http://127.0.0.1:{port}/bye",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"  # type: ignore[union-attr]
        started = time.monotonic()
        await processes.stop(proc, grace=15)
    finally:
        await runner.cleanup()
    assert goodbyes == ["/bye"] and proc.returncode == 0  # it exited on its own, not killed
    assert time.monotonic() - started < 10


async def test_everything_started_is_stopped_when_the_benchmark_fails(tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(RuntimeError, match="the benchmark broke"):
        async with processes.started(
            [sys.executable, "-c", STUBBORN, str(pid_file)],
            [sys.executable, "-c", "import time; time.sleep(300)"],
            grace=0.5,
        ) as procs:
            grandchild = int(await _wait_for(pid_file))
            raise RuntimeError("the benchmark broke")
    assert all(proc.returncode is not None for proc in procs)
    deadline = time.monotonic() + 5
    while _alive(grandchild) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(grandchild), "the grandchild outlived the benchmark"


async def test_a_command_that_hangs_is_killed_and_reported(tmp_path):
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(300)"
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await processes.run([sys.executable, "-c", script], {"PATH": os.environ.get("PATH", "")}, timeout=2)
    assert time.monotonic() - started < 10
    assert not _alive(int(pid_file.read_text()))


def _processes_with(marker: bytes) -> list[int]:
    """Processes whose environment holds `marker` (their own, readable ones)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass  # gone already, or another user's
    return found


async def test_the_slack_ack_benchmark_runs_to_its_end_and_leaves_nothing_behind(tmp_path):
    """A tiny run of the real benchmark: `tower run` and the bare app start, answer, and are gone after."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWER_", "SLACK_"))}
    env["TMPDIR"] = str(tmp_path)  # every process the benchmark starts inherits it: a marker to look for
    root = Path(__file__).resolve().parent.parent
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.slack_ack",
        "--requests",
        "2",
        env=env,
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, out.decode()[-2000:]
    replies = re.search(rb"replies Tower posted to response_url: (\d+)", out)
    assert replies and int(replies.group(1)) > 0, out.decode()[-2000:]  # Tower really served the requests
    assert _processes_with(f"TMPDIR={tmp_path}".encode()) == []
