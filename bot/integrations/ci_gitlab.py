"""The CI port on GitLab pipelines: a pipeline trigger carrying Tower's TOWER_* variables.

Triggering needs only a pipeline trigger token (sent in the form, never as a header), whose owner
the project must allow to set pipeline variables. Finding and polling a pipeline need an API token
with read_api (PRIVATE-TOKEN). A pipeline is found again by its name when the project names Tower's
pipelines (.gitlab-ci.yml: ``workflow: name: "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"``), which
any Reporter may read; otherwise by its TOWER_OPERATION_ID variable, which GitLab shows only to
Maintainers and the pipeline's triggerer (app/policies/ci/pipeline_policy.rb). Every call goes through
ApiClient (bounded retries, rate limits, no tokens in messages); the trigger is a non-idempotent POST,
never repeated once it may have reached GitLab.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from bot.integrations.http import ApiClient, ForgeRateLimited
from bot.integrations.rate_limits import Waiting
from commands.engine.ports import (
    CIError,
    CIUnavailable,
    ForgeAuthError,
    ForgeError,
    ForgeNotFound,
    ForgeUnavailable,
    Run,
    RunRequest,
)

PIPELINES_PER_PAGE = 20
NAME_PREFIX = "tower "  # how Tower's pipelines are named: "tower deploy tower-demo-1-v1.3.0-rc1-devnet-1"
WORKFLOW_NAME = 'workflow: name: "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"'
VARIABLES_SETTING = "Settings > CI/CD > Variables > Minimum role to use pipeline variables"
_STATUS = {
    "created": "queued",
    "waiting_for_resource": "queued",
    "preparing": "queued",
    "pending": "queued",
    "scheduled": "queued",
    "manual": "queued",
    "running": "running",
    "canceling": "running",
    "success": "succeeded",
    "failed": "failed",
    "canceled": "failed",
    "skipped": "failed",
}


class GitLabPipelineCI:
    def __init__(
        self,
        project: str,
        trigger_token: str | None,
        *,
        ref: str = "main",
        api_url: str = "https://gitlab.com/api/v4",
        api_token: str | None = None,
        timeout: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        trigger_token_env: str = "GITLAB_TRIGGER_TOKEN",
        api_token_env: str = "GITLAB_TOKEN",
        waiting: Waiting | None = None,
    ):
        self.project, self.ref = project, ref
        self.trigger_token, self.api_token = trigger_token, api_token
        self.trigger_token_env, self.api_token_env = trigger_token_env, api_token_env
        hint = f"Check that {api_token_env} holds a GitLab access token with the read_api scope that can see {project}."
        # No default headers: the trigger must not carry the API token, and reads add it themselves.
        self.api = ApiClient(
            api_url,
            {"User-Agent": "tower"},
            service="GitLab",
            token_hint=hint,
            timeout=timeout,
            transport=transport,
            waiting=waiting,
        )
        self._project = f"projects/{quote(project, safe='')}"  # "group/project" is one encoded segment

    async def close(self) -> None:
        await self.api.close()

    async def trigger(self, request: RunRequest) -> Run:
        if not self.trigger_token:
            raise CIError(
                f"{self.trigger_token_env} is not set: set it to a pipeline trigger token of {self.project} "
                "(Settings > CI/CD > Pipeline trigger tokens)."
            )
        variables = {
            "TOWER_OPERATION_ID": request.operation_id,
            "TOWER_PIPELINE": request.pipeline,
            "TOWER_TAG": request.tag,
            "TOWER_VERSION": request.version,
            "TOWER_ENVIRONMENT": request.environment or "",
            "TOWER_CALLBACK_URL": request.callback_url or "",
        }
        form = {"token": self.trigger_token, "ref": self.ref} | {f"variables[{k}]": v for k, v in variables.items()}
        try:
            response = await self.api.request("POST", f"{self._project}/trigger/pipeline", data=form, idempotent=False)
        except ForgeError as err:
            raise self._trigger_error(err) from None
        return _run(response.json())

    async def find(self, request: RunRequest) -> Run | None:
        if not self.api_token:
            # GitLab does not deduplicate triggers, so "can't tell" must not look like "not started".
            raise CIError(
                f"Finding a GitLab pipeline by its operation id needs an API token: set {self.api_token_env} "
                f"to a GitLab access token with the read_api scope that can see {self.project}."
            )
        params = {"source": "trigger", "ref": self.ref, "per_page": str(PIPELINES_PER_PAGE)}
        pipelines = (await self._get(f"{self._project}/pipelines", params)).json()  # newest first
        named = [p for p in pipelines if (p.get("name") or "").startswith(NAME_PREFIX)]
        for pipeline in named:  # a whole word: "op-1" must not match a pipeline of "op-10"
            if request.operation_id in pipeline["name"].split():
                return _run(pipeline)
        if named:  # the project names Tower's pipelines: an unnamed one is not Tower's
            return None
        for pipeline in pipelines:
            if await self._variable(pipeline["id"], "TOWER_OPERATION_ID") == request.operation_id:
                return _run(pipeline)
        return None

    async def _variable(self, pipeline_id: int, key: str) -> str | None:
        response = await self._get(f"{self._project}/pipelines/{pipeline_id}/variables", ok=(403,))
        if response.status_code == 403:
            raise CIError(
                f"GitLab shows pipeline {pipeline_id}'s variables only to Maintainers (and its triggerer), so Tower "
                f"can't tell whether it is the run of this operation. Name Tower's pipelines in .gitlab-ci.yml "
                f"({WORKFLOW_NAME}), then read_api suffices; or give the user of {self.api_token_env} the Maintainer "
                f"role in {self.project}. `tower check-config --online` checks this."
            )
        return next((v.get("value") for v in response.json() if v.get("key") == key), None)

    async def status(self, run_id: str) -> Run:
        if not self.api_token:
            return Run(run_id=run_id, url=None, status="unknown")  # only the callback will tell
        if not run_id.isdigit():
            raise CIError(f"{run_id!r} is not a GitLab pipeline id.")
        return _run((await self._get(f"{self._project}/pipelines/{run_id}")).json())

    async def _get(self, path: str, params: dict[str, str] | None = None, ok: tuple[int, ...] = ()) -> httpx.Response:
        try:
            headers = {"PRIVATE-TOKEN": self.api_token or ""}
            return await self.api.request("GET", path, params=params, headers=headers, ok=ok)
        except ForgeRateLimited as err:
            raise CIUnavailable(err.message) from None
        except ForgeUnavailable as err:
            raise CIUnavailable(str(err)) from None
        except ForgeNotFound as err:
            raise CIError(
                f"{err.message} Check the project {self.project!r} in tower.toml and that "
                f"{self.api_token_env} can see it."
            ) from None
        except ForgeError as err:
            raise CIError(str(err)) from None

    def _trigger_error(self, err: ForgeError) -> CIError:
        if isinstance(err, ForgeRateLimited):  # refused before anything was done: nothing started
            return CIUnavailable(err.message, maybe_started=False)
        if isinstance(err, ForgeUnavailable):
            # Only a connection that never opened proves GitLab did not get the trigger.
            if isinstance(err.__context__, (httpx.ConnectError, httpx.ConnectTimeout)):
                return CIUnavailable(str(err), maybe_started=False)
            return CIUnavailable(
                f"{err.message} The pipeline may have started: look for it by its operation id "
                "before triggering it again.",
                maybe_started=True,
            )
        if "permissions to set pipeline variables" in err.message:
            return CIError(
                f"GitLab refused the pipeline: the project does not let the trigger token's owner set pipeline "
                f"variables, and Tower passes its TOWER_* variables that way (projects in new GitLab.com namespaces "
                f"let no one, since GitLab 17.7). In {self.project}: {VARIABLES_SETTING}: choose Developer (or "
                f"at most the role of the trigger token's owner). Nothing was started."
            )
        if isinstance(err, (ForgeAuthError, ForgeNotFound)):  # GitLab answers a wrong trigger token with 404
            return CIError(
                f"{err.message} Check that {self.trigger_token_env} holds a pipeline trigger token of "
                f"{self.project} (Settings > CI/CD > Pipeline trigger tokens) and the project in tower.toml."
            )
        return CIError(
            f"{err.message} Check that the branch {self.ref!r} exists and its .gitlab-ci.yml has jobs "
            "that run for triggered pipelines."
        )


def _run(data: dict) -> Run:
    # A status newer than this table is not a final one: keep polling.
    return Run(run_id=str(data["id"]), url=data.get("web_url"), status=_STATUS.get(data.get("status") or "", "running"))
