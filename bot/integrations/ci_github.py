"""The CI port on GitHub Actions: a workflow_dispatch that names its run, or a run found by its run name.

A dispatch asks for `return_run_details` (actions/create-workflow-dispatch): GitHub then answers 200
with the `workflow_run_id`. A server without it (older GitHub Enterprise Server) answers 204 and no
run id, and a lost answer leaves none either; for those Tower's workflows name their runs
``run-name: tower ${{ inputs.pipeline }} ${{ inputs.operation_id }}`` and Tower finds a run by the
operation id in its title. Every call goes through ApiClient (bounded retries, rate limits, no tokens
in messages); the dispatch is a non-idempotent POST, never repeated once it may have reached GitHub.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

import httpx

from bot.integrations.http import ApiClient, ForgeRateLimited
from bot.integrations.rate_limits import Waiting
from commands.engine.ports import (
    CIError,
    CIUnavailable,
    ForgeAuthError,
    ForgeConflict,
    ForgeError,
    ForgeNotFound,
    ForgeUnavailable,
    Run,
    RunRequest,
)

log = logging.getLogger("tower.ci")

API_VERSION = "2022-11-28"
INPUTS = ("tag", "version", "operation_id", "pipeline", "environment", "callback_url")  # what a dispatch passes
RUN_NAME = "run-name: tower ${{ inputs.pipeline }} ${{ inputs.operation_id }}"
PLACEHOLDER = "op:"  # run id prefix for a dispatched run GitHub does not list yet
RUNS_PER_PAGE = 50


class GitHubActionsCI:
    # A dispatched run takes a moment to be listed: trigger looks for it after each of these waits.
    find_delays: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)

    def __init__(
        self,
        repository: str,
        workflow: str,
        token: str | None,
        *,
        ref: str = "main",
        api_url: str = "https://api.github.com",
        token_env: str = "GITHUB_TOKEN",
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        waiting: Waiting | None = None,
    ):
        self.repository, self.workflow, self.ref, self.token_env = repository, workflow, ref, token_env
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "tower"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        need = f'a GitHub token that can see {repository} with the "actions: write" permission'
        hint = f"Check that {token_env} holds {need}." if token else f"Set {token_env} to {need}."
        self.api = ApiClient(
            api_url,
            headers,
            service="GitHub Actions",
            token_hint=hint,
            timeout=timeout,
            transport=transport,
            waiting=waiting,
        )
        self._runs = f"repos/{repository}/actions/runs"
        self._workflow = f"repos/{repository}/actions/workflows/{quote(workflow, safe='')}"

    async def close(self) -> None:
        await self.api.close()

    async def trigger(self, request: RunRequest) -> Run:
        # Inputs are strings; the workflow must declare all six (GitHub refuses undeclared ones).
        inputs = {
            "tag": request.tag,
            "version": request.version,
            "operation_id": request.operation_id,
            "pipeline": request.pipeline,
            "environment": request.environment or "",
            "callback_url": request.callback_url or "",
        }
        body = {"ref": self.ref, "inputs": inputs, "return_run_details": True}
        try:
            response = await self.api.request("POST", f"{self._workflow}/dispatches", json=body, idempotent=False)
        except ForgeError as err:
            raise self._error(err, write=True) from None
        if response.status_code == 200 and (details := response.json()).get("workflow_run_id"):
            return Run(run_id=str(details["workflow_run_id"]), url=details.get("html_url"), status="queued")
        log.info("%s answered the dispatch without run details: finding the run by its run-name", self.repository)
        for delay in self.find_delays:
            await asyncio.sleep(delay)
            try:
                if run := await self._find(request.operation_id):
                    return run
            except CIError:
                break  # the dispatch was accepted: a failed lookup is for status() to retry
        return Run(run_id=PLACEHOLDER + request.operation_id, url=None, status="queued")

    async def find(self, request: RunRequest) -> Run | None:
        return await self._find(request.operation_id)

    async def status(self, run_id: str) -> Run:
        if run_id.startswith(PLACEHOLDER):
            # Not listed when it was triggered: the real run id comes back once GitHub lists it.
            found = await self._find(run_id.removeprefix(PLACEHOLDER))
            return found or Run(run_id=run_id, url=None, status="queued")
        if not run_id.isdigit():
            raise CIError(f"{run_id!r} is not a GitHub Actions run id.")
        return _run((await self._get(f"{self._runs}/{run_id}")).json())

    async def _find(self, operation_id: str) -> Run | None:
        response = await self._get(f"{self._workflow}/runs", event="workflow_dispatch", per_page=str(RUNS_PER_PAGE))
        for data in response.json().get("workflow_runs", []):  # newest first
            # A whole word of the title: "op-1" must not match a run of "op-10".
            if operation_id in (data.get("display_title") or "").split():
                return _run(data)
        return None

    async def _get(self, path: str, **params: str) -> httpx.Response:
        try:
            return await self.api.request("GET", path, params=params or None)
        except ForgeError as err:
            raise self._error(err, write=False) from None

    def _error(self, err: ForgeError, *, write: bool) -> CIError:
        if isinstance(err, ForgeRateLimited):  # refused before anything was done: nothing started
            return CIUnavailable(err.message, maybe_started=False)
        if isinstance(err, ForgeUnavailable):
            if not write:
                return CIUnavailable(str(err))
            # Only a connection that never opened proves GitHub did not get the dispatch.
            if isinstance(err.__context__, (httpx.ConnectError, httpx.ConnectTimeout)):
                return CIUnavailable(str(err), maybe_started=False)
            return CIUnavailable(
                f"{err.message} The run may have started: look for it by its operation id before triggering it again.",
                maybe_started=True,
            )
        if isinstance(err, ForgeAuthError):
            return CIError(str(err))
        if isinstance(err, ForgeNotFound):
            return CIError(
                f"{err.message} Check the repository {self.repository!r} and the workflow "
                f"{self.workflow!r} in tower.toml, and that {self.token_env} can see them."
            )
        if isinstance(err, ForgeConflict):  # 422: no workflow_dispatch trigger, undeclared inputs, unknown ref
            return CIError(
                f"{err.message} Check that {self.workflow} has a workflow_dispatch trigger declaring "
                f"the inputs tag, version, operation_id, pipeline, environment and callback_url, "
                f"and that {self.ref!r} exists."
            )
        return CIError(str(err))


def _run(data: dict) -> Run:
    return Run(
        run_id=str(data["id"]), url=data.get("html_url"), status=_status(data.get("status"), data.get("conclusion"))
    )


def _status(status: str | None, conclusion: str | None) -> str:
    if status == "completed":
        # Only success counts: cancelled, timed out, skipped or neutral deploys did not verifiably deploy.
        return "succeeded" if conclusion == "success" else "failed"
    return "running" if status == "in_progress" else "queued"  # requested, queued, waiting, pending
