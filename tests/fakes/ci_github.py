"""A fake GitHub Actions API on 127.0.0.1: workflow dispatches become runs titled by the workflow's
run-name template, listed newest first (optionally only after a lag, as on GitHub), with a status the
test sets. A dispatch asking for `return_run_details` gets 200 and the run's id, as GitHub.com answers
(actions/create-workflow-dispatch); with `run_details=False` the fake is a server without it: 204.
Bearer-token, Accept and API-version checks like GitHub's; every request is recorded; faults
(``fail_next``, ``timeout_next``) are injected by method and path regex."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from aiohttp import web

from tests.fakes.faults import Faults
from tests.fakes.github_contents import b64
from tests.fakes.github_git import DOCS
from tests.fakes.github_server import RecordedCall, check_headers
from tests.fakes.github_tokens import Grant, area
from tests.fakes.local_server import LocalServer
from tests.fakes.rate_limits import GitHubRateLimit

RUN_NAME = "tower ${{ inputs.pipeline }} ${{ inputs.operation_id }}"  # Tower's documented convention
INPUTS = ("tag", "version", "operation_id", "pipeline", "environment", "callback_url")
WORKFLOW_ID = 161335
FIRST_RUN_ID = 9_876_543_210
NOT_FOUND = (404, {"message": "Not Found", "documentation_url": DOCS})


class FakeGitHubActions(LocalServer):
    def __init__(
        self,
        repository: str = "acme/demo",
        workflow: str = "deploy.yml",
        token: str = "ghp_fake",
        *,
        run_name: str = RUN_NAME,
        inputs: tuple[str, ...] = INPUTS,
        refs: tuple[str, ...] = ("main",),
        run_details: bool = True,
    ):
        super().__init__()
        self.repository, self.workflow, self.token = repository, workflow, token
        self.run_details = run_details
        self.run_name, self.inputs, self.refs = run_name, inputs, refs
        self.runs: dict[int, dict] = {}  # id -> run JSON, as GitHub shows it
        self.dispatches: list[dict] = []  # the body of each accepted dispatch
        self.list_lag = 0  # a new run stays out of this many listings (GitHub lists runs a moment late)
        self.calls: list[RecordedCall] = []
        self.limits = GitHubRateLimit()  # tie its `now` to a test's clock to test waiting
        self.grant = Grant()  # what the token may do: every permission Tower needs, unless a test says less
        self.installed_version: str | None = None  # set: a GitHub Enterprise Server of that version (meta/root)
        self.state = "active"  # the workflow's state (actions/get-workflow), e.g. "disabled_manually"
        self._faults = Faults()
        repo = re.escape(repository)
        self._routes = [
            ("GET", re.compile(r"^/meta$"), self._meta),
            ("GET", re.compile(rf"^/repos/{repo}/actions/workflows/([^/]+)$"), self._get_workflow),
            ("GET", re.compile(rf"^/repos/{repo}/contents/(.+)$"), self._workflow_file),
            ("POST", re.compile(rf"^/repos/{repo}/actions/workflows/([^/]+)/dispatches$"), self._dispatch),
            ("GET", re.compile(rf"^/repos/{repo}/actions/workflows/([^/]+)/runs$"), self._list_runs),
            ("GET", re.compile(rf"^/repos/{repo}/actions/runs/(\d+)$"), self._get_run),
        ]

    # -- test controls -------------------------------------------------------------------------
    @property
    def workflow_yaml(self) -> str:
        """The workflow file, as far as Tower cares: its run-name and its workflow_dispatch inputs."""
        run_name = f"run-name: {self.run_name}\n" if self.run_name else ""
        inputs = "".join(f"      {name}:\n        type: string\n" for name in self.inputs)
        steps = "jobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./deploy.sh\n"
        return f"name: Deploy\n{run_name}on:\n  workflow_dispatch:\n    inputs:\n{inputs}{steps}"

    @property
    def started(self) -> int:
        return len(self.runs)

    def set_status(self, run_id: int | str, status: str, conclusion: str | None = None) -> None:
        run = self.runs[int(run_id)]
        run.update(status=status, conclusion=conclusion, updated_at=_now())

    def fail_next(
        self, method: str, path_regex: str, status: int = 502, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `count` matching requests with `status` (and `headers`), without acting on them."""
        self._faults.add("fail", method, path_regex, (status, headers or {}), count)

    def timeout_next(self, method: str, path_regex: str, delay: float = 5.0, count: int = 1) -> None:
        """Act on the next matching requests, then answer only after `delay` (past the client's timeout)."""
        self._faults.add("delay", method, path_regex, delay, count)

    # -- plumbing --------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        call = await RecordedCall.read(request)
        self.calls.append(call)
        if (failure := self._faults.take("fail", call.method, call.path)) is not None:
            answer: tuple = (failure[0], {"message": "Server Error"}, failure[1])
        elif (refused := self.limits.refusal()) is not None:
            answer = refused
        elif call.json is ...:
            answer = (400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        else:
            answer = check_headers(call, self.token) or self._route(call)
        status, payload, headers = (*answer, {})[:3]
        call.status, call.response = status, payload
        if delay := self._faults.take("delay", call.method, call.path):
            await self._sleep(delay)
        headers = self.limits.headers() | headers
        if status == 204:
            return web.Response(status=204, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _route(self, call: RecordedCall) -> tuple:
        for method, pattern, handler in self._routes:
            if method == call.method and (match := pattern.match(call.path)):
                rel = re.sub(r"^/repos/[^/]+/[^/]+", "", call.path)
                if rel != call.path and (refused := self.grant.refusal(area(rel), call.method)):
                    return refused
                return handler(call, *match.groups())
        return NOT_FOUND

    def _known_workflow(self, workflow: str) -> bool:
        return workflow in (self.workflow, str(WORKFLOW_ID))  # GitHub takes the file name or the id

    # -- endpoints -------------------------------------------------------------------------------
    def _meta(self, call: RecordedCall) -> tuple:
        # meta/root: GitHub Enterprise Server says its installed_version; GitHub.com does not.
        meta = {"verifiable_password_authentication": False}
        return 200, meta | ({"installed_version": self.installed_version} if self.installed_version else {})

    def _get_workflow(self, call: RecordedCall, workflow: str) -> tuple:
        if not self._known_workflow(workflow):
            return NOT_FOUND
        path = f".github/workflows/{self.workflow}"
        return 200, {
            "id": WORKFLOW_ID,
            "node_id": f"W_{WORKFLOW_ID}",
            "name": "Deploy",
            "path": path,
            "state": self.state,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "url": f"{self.base_url}/repos/{self.repository}/actions/workflows/{WORKFLOW_ID}",
            "html_url": f"https://github.com/{self.repository}/blob/main/{path}",
            "badge_url": f"https://github.com/{self.repository}/workflows/Deploy/badge.svg",
        }

    def _workflow_file(self, call: RecordedCall, path: str) -> tuple:
        if path != f".github/workflows/{self.workflow}" or call.query.get("ref", "main") not in self.refs:
            return NOT_FOUND
        data = self.workflow_yaml.encode()
        return 200, {"type": "file", "name": self.workflow, "path": path, "size": len(data)} | {
            "encoding": "base64",
            "content": b64(data),
        }

    def _dispatch(self, call: RecordedCall, workflow: str) -> tuple:
        if not self._known_workflow(workflow):
            return NOT_FOUND
        body = call.json if isinstance(call.json, dict) else {}
        if "ref" not in body:
            return 422, {"message": 'Invalid request.\n\n"ref" wasn\'t supplied.', "documentation_url": DOCS}
        if body["ref"] not in self.refs:
            return 422, {"message": f"No ref found for: {body['ref']}", "documentation_url": DOCS}
        inputs = body.get("inputs") or {}
        if unexpected := sorted(set(inputs) - set(self.inputs)):
            return 422, {"message": f"Unexpected inputs provided: {json.dumps(unexpected)}", "documentation_url": DOCS}
        if any(not isinstance(v, str) for v in inputs.values()):
            return 422, {
                "message": "Invalid request.\n\nFor 'properties/inputs', values must be strings.",
                "documentation_url": DOCS,
            }
        self.dispatches.append(body)
        run_id = FIRST_RUN_ID + len(self.runs)
        title = re.sub(r"\$\{\{\s*inputs\.(\w+)\s*\}\}", lambda m: inputs.get(m.group(1), ""), self.run_name)
        self.runs[run_id] = {
            "id": run_id,
            "name": "Deploy",
            "display_title": title,
            "run_number": len(self.runs) + 1,
            "event": "workflow_dispatch",
            "status": "queued",
            "conclusion": None,
            "workflow_id": WORKFLOW_ID,
            "head_branch": body["ref"],
            "head_sha": "0" * 40,
            "path": f".github/workflows/{self.workflow}",
            "url": f"{self.base_url}/repos/{self.repository}/actions/runs/{run_id}",
            "html_url": f"https://github.com/{self.repository}/actions/runs/{run_id}",
            "created_at": _now(),
            "updated_at": _now(),
            "_unlisted": self.list_lag,
        }
        if body.get("return_run_details") is True and self.run_details:  # the workflow-dispatch-response schema
            run = self.runs[run_id]
            return 200, {"workflow_run_id": run_id, "run_url": run["url"], "html_url": run["html_url"]}
        return 204, None

    def _list_runs(self, call: RecordedCall, workflow: str) -> tuple:
        if not self._known_workflow(workflow):
            return NOT_FOUND
        per_page = min(int(call.query.get("per_page", 30)), 100)
        listed = []
        for run in sorted(self.runs.values(), key=lambda r: r["id"], reverse=True):
            if run["_unlisted"] > 0:
                run["_unlisted"] -= 1
                continue
            if (
                call.query.get("event", run["event"]) == run["event"]
                and call.query.get("branch", run["head_branch"]) == run["head_branch"]
            ):
                listed.append(_public(run))
        return 200, {"total_count": len(listed), "workflow_runs": listed[:per_page]}

    def _get_run(self, call: RecordedCall, run_id: str) -> tuple:
        run = self.runs.get(int(run_id))
        return (200, _public(run)) if run else NOT_FOUND


def _public(run: dict) -> dict:
    return {k: v for k, v in run.items() if not k.startswith("_")}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
