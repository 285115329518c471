"""A fake GitLab CI API v4 on 127.0.0.1: pipeline triggers (form fields, trigger-token check), the
pipelines list, each pipeline's variables and status (set by the test), with GitLab's status codes and
error bodies. The project is addressed by its url-encoded path or its id, as on GitLab. Every request
is recorded; faults (``fail_next``, ``timeout_next``) are injected by method and path regex."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.faults import Faults
from tests.fakes.local_server import LocalServer
from tests.fakes.rate_limits import GitLabThrottle

PROJECT_ID = 4242
FIRST_PIPELINE_ID = 700_001
_VARIABLE = re.compile(r"^variables\[(.+)\]$")


@dataclass
class RecordedCall:
    method: str
    path: str  # as received, still url-encoded: /api/v4/projects/group%2Fproject/...
    query: dict[str, str]
    form: dict[str, str]  # the form fields of a POST
    headers: CIMultiDict[str]
    status: int | None = None


class FakeGitLabCI(LocalServer):
    def __init__(
        self,
        project: str = "group/project",
        trigger_token: str = "glptt-fake",
        api_token: str = "glpat-fake",
        *,
        refs: tuple[str, ...] = ("main",),
    ):
        super().__init__()
        self.project, self.trigger_token, self.api_token, self.refs = project, trigger_token, api_token, refs
        self.pipelines: dict[int, dict] = {}  # id -> pipeline JSON, as GitLab shows it
        self.variables: dict[int, dict[str, str]] = {}  # id -> the trigger's variables
        self.calls: list[RecordedCall] = []
        self.throttle = GitLabThrottle()  # tie its `now` to a test's clock to test waiting
        self._faults = Faults()
        self._routes = [
            ("POST", re.compile(r"^trigger/pipeline$"), self._trigger),
            ("GET", re.compile(r"^pipelines$"), self._list),
            ("GET", re.compile(r"^pipelines/(\d+)$"), self._get),
            ("GET", re.compile(r"^pipelines/(\d+)/variables$"), self._variables),
        ]

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v4"

    @property
    def started(self) -> int:
        return len(self.pipelines)

    def set_status(self, pipeline_id: int | str, status: str) -> None:
        self.pipelines[int(pipeline_id)].update(status=status, updated_at=_now())

    def fail_next(self, method: str, path_regex: str, status: int = 502, count: int = 1) -> None:
        """The next `count` matching requests get `status` and change nothing."""
        self._faults.add("fail", method, path_regex, status, count)

    def timeout_next(self, method: str, path_regex: str, delay: float = 5.0, count: int = 1) -> None:
        """The next matching requests are carried out, then answered only after `delay` seconds."""
        self._faults.add("delay", method, path_regex, delay, count)

    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method and re.search(path_regex, c.path)]

    # -- plumbing --------------------------------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.rel_url.raw_path  # request.path would decode group%2Fproject
        form = {k: str(v) for k, v in (await request.post()).items()} if request.method == "POST" else {}
        call = RecordedCall(request.method, path, dict(request.query), form, CIMultiDict(request.headers))
        self.calls.append(call)
        if (status := self._faults.take("fail", call.method, call.path)) is not None:
            answer: tuple = (status, {"message": f"{status} Server Error"})
        elif (refused := self.throttle.refusal()) is not None:
            answer = refused
        else:
            answer = self._route(call)
        status, payload, headers = (*answer, {})[:3]
        call.status = status
        if delay := self._faults.take("delay", call.method, call.path):
            await self._sleep(delay)
        headers = self.throttle.headers() | headers
        if isinstance(payload, str):  # Rack::Attack answers in plain text
            return web.Response(text=payload, status=status, headers=headers)
        return web.json_response(payload, status=status, headers=headers)

    def _route(self, call: RecordedCall) -> tuple:
        match = re.match(r"^/api/v4/projects/([^/]+)/(.+)$", call.path)
        if not match:
            return 404, {"error": "404 Not Found"}
        if unquote(match.group(1)) not in (self.project, str(PROJECT_ID)):
            return 404, {"message": "404 Project Not Found"}
        for method, pattern, handler in self._routes:
            if method == call.method and (found := pattern.match(match.group(2))):
                if method == "GET" and call.headers.get("PRIVATE-TOKEN") != self.api_token:
                    return 401, {"message": "401 Unauthorized"}
                return handler(call, *found.groups())
        return 404, {"error": "404 Not Found"}

    # -- endpoints -------------------------------------------------------------------------------
    def _trigger(self, call: RecordedCall) -> tuple:
        form = call.form
        for field in ("token", "ref"):
            if not form.get(field):
                return 400, {"error": f"{field} is missing"}
        if form["token"] != self.trigger_token:
            return 404, {"message": "404 Not Found"}  # GitLab does not say whether the project exists
        if form["ref"] not in self.refs:
            return 400, {"message": {"base": ["Reference not found"]}}
        pipeline_id = FIRST_PIPELINE_ID + len(self.pipelines)
        self.variables[pipeline_id] = {m.group(1): v for k, v in form.items() if (m := _VARIABLE.match(k))}
        self.pipelines[pipeline_id] = {
            "id": pipeline_id,
            "iid": len(self.pipelines) + 1,
            "project_id": PROJECT_ID,
            "sha": "0" * 40,
            "ref": form["ref"],
            "status": "created",
            "source": "trigger",
            "created_at": _now(),
            "updated_at": _now(),
            "web_url": f"https://gitlab.example.com/{self.project}/-/pipelines/{pipeline_id}",
        }
        return 201, self._full(pipeline_id)

    def _list(self, call: RecordedCall) -> tuple:
        per_page = min(int(call.query.get("per_page", 20)), 100)
        listed = [
            p
            for _, p in sorted(self.pipelines.items(), reverse=True)
            if call.query.get("source", p["source"]) == p["source"] and call.query.get("ref", p["ref"]) == p["ref"]
        ]
        return 200, listed[:per_page]

    def _get(self, call: RecordedCall, pipeline_id: str) -> tuple:
        if int(pipeline_id) not in self.pipelines:
            return 404, {"message": "404 Not found"}
        return 200, self._full(int(pipeline_id))

    def _variables(self, call: RecordedCall, pipeline_id: str) -> tuple:
        if int(pipeline_id) not in self.pipelines:
            return 404, {"message": "404 Not found"}
        return 200, [
            {"variable_type": "env_var", "key": k, "value": v, "raw": False}
            for k, v in self.variables[int(pipeline_id)].items()
        ]

    def _full(self, pipeline_id: int) -> dict:
        pipeline = self.pipelines[pipeline_id]
        return pipeline | {
            "before_sha": "0" * 40,
            "tag": False,
            "yaml_errors": None,
            "user": None,
            "started_at": None,
            "finished_at": None,
            "duration": None,
            "coverage": None,
            "detailed_status": {"text": pipeline["status"], "group": pipeline["status"]},
        }


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
