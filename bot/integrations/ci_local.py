"""The local CI: the project's commands, run on Tower's machine. The embedded default, so the demo
deploys offline. A run reports back the way a real CI's callbacks do, through `report`, and keeps
its record in the run book (bot/integrations/local_runs.py), so that any other Tower process on the
same database knows whether it still runs, how it ended, or that its process stopped.

The commands may say more on their output, one marker a line:

    tower-step: NAME          a post-deploy step is done (ticks its checklist item)
    tower-archive: LOCATION   where a retired deployment's logs went
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.integrations.local_runs import RunBook
from commands.engine.ports import Run, RunRequest
from commands.engine.settings import CISettings
from storage.tables import LocalRun

log = logging.getLogger("tower.ci")
Report = Callable[[dict], Awaitable[object]]
OUTPUT_KEPT = 2000  # characters of a command's output kept (a failing one's is the reason)
DETAIL_KEPT = 500  # of which a report carries this much
LONGEST_LINE = 65536  # a longer line without a newline is output, never a marker
BASICS = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")
_STEP = re.compile(r"^\s*tower-step:\s*(\S.*?)\s*$")
_ARCHIVE = re.compile(r"^\s*tower-archive:\s*(\S.*?)\s*$")


@dataclass
class StepResult:
    ok: bool
    exit_code: int | None
    output: str
    archive: str | None = None


class LocalCommandCI:
    def __init__(
        self,
        project_key: str,
        settings: CISettings,
        report: Report,
        cwd: Path,
        book: RunBook,
        env: Mapping[str, str] | None = None,
    ):
        self.project_key, self.settings, self.report, self.cwd, self.book = project_key, settings, report, cwd, book
        # What the commands may see of Tower's environment: the basics a shell needs, and what the
        # project names. Never Tower's own secrets (chat tokens, the database URL, callback secrets).
        # The basics describe this machine (the process's own); the project's names come from
        # Tower's environment.
        named = {**os.environ, **(env or {})}
        self.base_env = {name: os.environ[name] for name in BASICS if name in os.environ}
        self.base_env.update({name: named[name] for name in settings.pass_env if name in named})
        self._tasks: set[asyncio.Task] = set()
        self._procs: set[asyncio.subprocess.Process] = set()

    async def trigger(self, request: RunRequest) -> Run:
        # Claimed once per operation id, across every process on the database: the same operation
        # asked for twice (a retry, another replica) is still one run.
        if not await self.book.claim(request.operation_id, request.pipeline):
            found = await self.find(request)
            return found or Run(request.operation_id, None, "running")
        task = asyncio.create_task(self._pipeline(request), name=f"local CI {request.operation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Run(run_id=request.operation_id, url=None, status="running")

    async def find(self, request: RunRequest) -> Run | None:
        return await self._judged(request.operation_id)

    async def status(self, run_id: str) -> Run:
        found = await self._judged(run_id)
        if found is not None:
            return found
        # Started before Tower kept a run book, or never claimed: nobody can be running it.
        return Run(run_id, None, "failed", detail="no Tower process has a record of running it")

    async def _judged(self, operation_id: str) -> Run | None:
        verdict = await self.book.judge(operation_id)
        if verdict is None:
            return None
        if verdict.state == "running":
            return Run(operation_id, None, "running")
        run = verdict.run
        return Run(operation_id, None, run.status, detail=_detail(run.output), events=events_of(run))

    def running(self) -> int:
        return len(self._tasks)

    async def settle(self, timeout: float | None) -> None:
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
        op = request.operation_id
        try:
            if request.pipeline == "deploy":
                deployed = await self._step(request, self.settings.command)
                if not deployed.ok:
                    await self._close(op, "deploy", deployed)
                    await self._send(request, "deploy.failed", detail=_detail(deployed.output))
                    return
                await self._send(request, "deploy.succeeded")
                smoke = await self._step(request, self.settings.smoke_command)
                # The run's output, both steps of it, is what its record keeps.
                both = (deployed.output + smoke.output)[-OUTPUT_KEPT:]
                await self._close(op, "smoke", StepResult(smoke.ok, smoke.exit_code, both))
                if smoke.ok:
                    await self._send(request, "smoke.passed")
                else:
                    await self._send(request, "smoke.failed", detail=_detail(smoke.output))
                return
            command = {"integrate": self.settings.integrate_command, "retire": self.settings.retire_command}[
                request.pipeline
            ]
            result = await self._step(request, command)
            await self._close(op, request.pipeline, result)
            outcome = "succeeded" if result.ok else "failed"
            await self._send(
                request,
                f"{request.pipeline}.{outcome}",
                detail=None if result.ok else _detail(result.output),
                archive=result.archive,
            )
        except Exception:
            log.exception("local CI: the %s run %s broke off", request.pipeline, op)
            await self._close(op, request.pipeline, StepResult(False, None, "Tower's local runner broke off the run"))

    async def _close(self, op: str, step: str, result: StepResult) -> None:
        """The result into the run book first: if this process stops before its report is applied,
        any other process applies it from there."""
        try:
            await self.book.finish(
                op, ok=result.ok, step=step, exit_code=result.exit_code, output=result.output, archive=result.archive
            )
        except Exception:
            log.exception("local CI: recording the end of %s failed; its heartbeat stops instead", op)

    async def _step(self, request: RunRequest, command: str | None) -> StepResult:
        if not command:
            return StepResult(True, 0, "")
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
        result = StepResult(False, None, "")
        tail, pending = b"", b""
        try:
            assert proc.stdout is not None, "the command's output is piped"
            while chunk := await proc.stdout.read(LONGEST_LINE):
                tail = (tail + chunk)[-OUTPUT_KEPT * 4 :]
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > LONGEST_LINE:
                    pending = b""
                for line in lines:
                    await self._marker(request, line.decode(errors="replace"), result)
            if pending:
                await self._marker(request, pending.decode(errors="replace"), result)
            result.exit_code = await proc.wait()
        finally:
            self._procs.discard(proc)
        result.ok = result.exit_code == 0
        result.output = tail.decode(errors="replace")[-OUTPUT_KEPT:]
        return result

    async def _marker(self, request: RunRequest, line: str, result: StepResult) -> None:
        step = _STEP.match(line)
        if step and request.pipeline == "deploy":
            await self._send(request, "step.done", name=step.group(1)[:200])
        archive = _ARCHIVE.match(line)
        if archive and request.pipeline == "retire":
            result.archive = archive.group(1)[:1000]

    async def _send(self, request: RunRequest, event: str, **fields: str | None) -> None:
        try:
            await self.report(
                {
                    "project": self.project_key,
                    "operation_id": request.operation_id,
                    "event": event,
                    **{k: v for k, v in fields.items() if v is not None},
                }
            )
        except Exception:
            log.exception("local CI: recording %s for %s failed", event, request.operation_id)


def _detail(output: str | None) -> str | None:
    return (output or "").strip()[-DETAIL_KEPT:] or None


def events_of(run: LocalRun) -> tuple[dict, ...]:
    """What a finished run reports, for a process that did not run it (its owner reported as it went;
    the events only move a deployment from the state they expect, so hearing them twice is harmless)."""
    detail = _detail(run.output)
    if run.pipeline == "deploy":
        if run.status == "succeeded":
            return ({"event": "deploy.succeeded"}, {"event": "smoke.passed"})
        if run.step == "smoke":
            return ({"event": "deploy.succeeded"}, {"event": "smoke.failed", "detail": detail})
        return ({"event": "deploy.failed", "detail": detail},)
    if run.status == "succeeded":
        return ({"event": f"{run.pipeline}.succeeded", **({"archive": run.archive} if run.archive else {})},)
    return ({"event": f"{run.pipeline}.failed", "detail": detail},)
