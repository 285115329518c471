"""The local CI: the project's commands, run on Tower's machine. The embedded default, so the demo
deploys offline. A run reports back the way a real CI's callbacks do, through `report`."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from commands.engine.ports import Run, RunRequest
from commands.engine.settings import CISettings

log = logging.getLogger("tower.ci")
Report = Callable[[dict], Awaitable[object]]
OUTPUT_KEPT = 2000  # characters of a failing command's output kept as the reason
BASICS = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")


class LocalCommandCI:
    def __init__(
        self, project_key: str, settings: CISettings, report: Report, cwd: Path, env: Mapping[str, str] | None = None
    ):
        self.project_key, self.settings, self.report, self.cwd = project_key, settings, report, cwd
        # What the commands may see of Tower's environment: the basics a shell needs, and what the
        # project names. Never Tower's own secrets (chat tokens, the database URL, callback secrets).
        # The basics describe this machine (the process's own); the project's names come from
        # Tower's environment.
        named = {**os.environ, **(env or {})}
        self.base_env = {name: os.environ[name] for name in BASICS if name in os.environ}
        self.base_env.update({name: named[name] for name in settings.pass_env if name in named})
        self._runs: dict[str, Run] = {}
        self._tasks: set[asyncio.Task] = set()
        self._procs: set[asyncio.subprocess.Process] = set()

    async def trigger(self, request: RunRequest) -> Run:
        if request.operation_id in self._runs:  # the same operation twice: still one run
            return self._runs[request.operation_id]
        run = Run(run_id=request.operation_id, url=None, status="running")
        self._runs[request.operation_id] = run
        task = asyncio.create_task(self._pipeline(request), name=f"local CI {request.operation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return run

    async def find(self, request: RunRequest) -> Run | None:
        return self._runs.get(request.operation_id)

    async def status(self, run_id: str) -> Run:
        # A run this process never started was lost with an earlier one (a restart).
        return self._runs.get(run_id) or Run(run_id, None, "failed")

    async def settle(self, timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def close(self) -> None:
        for proc in list(self._procs):  # a run cut short by shutdown: its process must not outlive Tower
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _pipeline(self, request: RunRequest) -> None:
        """deploy: the deploy command, then the smoke test; integrate and retire: their command. A step
        without a command succeeds: the demo's deploy is an echo and its smoke test is the deploy."""
        if request.pipeline == "deploy":
            ok = await self._step(request, self.settings.command, "deploy.succeeded", "deploy.failed")
            if ok:
                await self._step(request, self.settings.smoke_command, "smoke.passed", "smoke.failed")
            return
        command = {"integrate": self.settings.integrate_command, "retire": self.settings.retire_command}[
            request.pipeline
        ]
        await self._step(request, command, f"{request.pipeline}.succeeded", f"{request.pipeline}.failed")

    async def _step(self, request: RunRequest, command: str | None, good: str, bad: str) -> bool:
        ok, output = await self._run(command, request) if command else (True, "")
        self._runs[request.operation_id] = Run(request.operation_id, None, "succeeded" if ok else "failed")
        await self._send(request, good if ok else bad, "" if ok else output)
        return ok

    async def _run(self, command: str, request: RunRequest) -> tuple[bool, str]:
        env = {
            **self.base_env,
            "TOWER_PROJECT": self.project_key,
            "TOWER_TAG": request.tag,
            "TOWER_VERSION": request.version,
            "TOWER_OPERATION_ID": request.operation_id,
            "TOWER_PIPELINE": request.pipeline,
            "TOWER_ENVIRONMENT": request.environment or "",
        }
        self.cwd.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_shell(
            command, cwd=self.cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        self._procs.add(proc)
        try:
            out, _ = await proc.communicate()
        finally:
            self._procs.discard(proc)
        return proc.returncode == 0, out.decode(errors="replace")[-OUTPUT_KEPT:]

    async def _send(self, request: RunRequest, event: str, output: str) -> None:
        try:
            await self.report(
                {
                    "project": self.project_key,
                    "operation_id": request.operation_id,
                    "event": event,
                    "detail": output.strip()[-500:] or None,
                }
            )
        except Exception:
            log.exception("local CI: recording %s for %s failed", event, request.operation_id)
