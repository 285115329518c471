"""A fake GitLab CI API v4 on 127.0.0.1: pipeline triggers (form fields, trigger-token check), the
pipelines list, each pipeline's variables and status (set by the test), with GitLab's status codes and
error bodies. The project is addressed by its url-encoded path or its id, as on GitLab. Every request
is recorded; faults (``fail_next``, ``timeout_next``) are injected by method and path regex.

Access is GitLab's (gitlab_access): the API token's user has a role (`member`), a trigger runs as its
token's owner (`trigger_owner`), the project says who may set pipeline variables (`variables_role`),
and a pipeline's variables are shown only to Maintainers or its own triggerer. A pipeline is named by
the .gitlab-ci.yml's `workflow:name` (`workflow_name`, with variables expanded), which the pipelines
list shows (lib/api/entities/ci/pipeline_basic_with_metadata.rb)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.faults import Faults
from tests.fakes.gitlab_access import (
    INSUFFICIENT,
    MAINTAINER,
    Member,
    may_read_variables,
    may_set_variables,
    project_json,
)
from tests.fakes.local_server import LocalServer
from tests.fakes.rate_limits import GitLabThrottle

PROJECT_ID = 4242
FIRST_PIPELINE_ID = 700_001
_VARIABLE = re.compile(r"^variables\[(.+)\]$")
_EXPAND = re.compile(r"\$\{?(\w+)\}?")  # $VAR or ${VAR} in workflow:name


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
        self.project, self.trigger_token, self.refs = project, trigger_token, refs
        self.member = Member("tower-bot", MAINTAINER, api_token, ("read_api",))  # who the API token is
        self.trigger_owner = Member("release-bot", MAINTAINER)  # whom triggered pipelines run as
        self.variables_role = "developer"  # self-managed default; new GitLab.com namespaces: no_one_allowed
        self.workflow_name: str | None = None  # e.g. "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"
        self.protected_refs = {"main"}  # the default branch is protected by default
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
            ("GET", re.compile(r"^repository/files/([^/]+)/raw$"), self._raw_file),
            (
                "GET",
                re.compile(r"^$"),
                lambda call: (200, project_json(project, PROJECT_ID, self.member, self.variables_role)),
            ),
        ]

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v4"

    @property
    def api_token(self) -> str:
        return self.member.token

    @property
    def ci_config(self) -> str:
        """The project's .gitlab-ci.yml, as far as Tower cares."""
        name = f'  name: "{self.workflow_name}"\n' if self.workflow_name else ""
        return f"workflow:\n{name}  rules:\n    - when: always\n\ndeploy:\n  script: ./deploy.sh\n"

    @property
    def started(self) -> int:
        return len(self.pipelines)

    def set_status(self, pipeline_id: int | str, status: str) -> None:
        self.pipelines[int(pipeline_id)].update(status=status, updated_at=_now())

    def fail_next(
        self, method: str, path_regex: str, status: int = 502, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """The next `count` matching requests get `status` (and `headers`) and change nothing."""
        self._faults.add("fail", method, path_regex, (status, headers or {}), count)

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
        if (failure := self._faults.take("fail", call.method, call.path)) is not None:
            answer: tuple = (failure[0], {"message": f"{failure[0]} Server Error"}, failure[1])
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
        if call.method == "GET" and call.headers.get("PRIVATE-TOKEN") != self.api_token:
            return 401, {"message": "401 Unauthorized"}  # the trigger (a POST) carries its own token
        if call.path == "/api/v4/personal_access_tokens/self":
            return 200, self.member.token_json()
        match = re.match(r"^/api/v4/projects/([^/]+)/?(.*)$", call.path)
        if not match:
            return 404, {"error": "404 Not Found"}
        if unquote(match.group(1)) not in (self.project, str(PROJECT_ID)):
            return 404, {"message": "404 Project Not Found"}
        for method, pattern, handler in self._routes:
            if method == call.method and (found := pattern.match(match.group(2))):
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
        variables = {m.group(1): v for k, v in form.items() if (m := _VARIABLE.match(k))}
        if variables and not may_set_variables(self.trigger_owner, self.variables_role):
            # Ci::PipelineTriggerService: error(pipeline.errors.messages, 400), rendered as the message.
            return 400, {"message": {"base": [INSUFFICIENT]}}
        pipeline_id = FIRST_PIPELINE_ID + len(self.pipelines)
        self.variables[pipeline_id] = variables
        name = _EXPAND.sub(lambda m: variables.get(m[1], ""), self.workflow_name) if self.workflow_name else None
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
            "name": name,
            "_user": self.trigger_owner.user,
        }
        return 201, self._full(pipeline_id)

    def _list(self, call: RecordedCall) -> tuple:
        per_page = min(int(call.query.get("per_page", 20)), 100)
        listed = [
            _public(p)
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
        pipeline = self.pipelines[int(pipeline_id)]
        if not may_read_variables(self.member, pipeline["_user"], pipeline["ref"] in self.protected_refs):
            return 403, {"message": "403 Forbidden"}  # authorize! :read_pipeline_variable
        return 200, [
            {"variable_type": "env_var", "key": k, "value": v, "raw": False}
            for k, v in self.variables[int(pipeline_id)].items()
        ]

    def _project(self, call: RecordedCall) -> tuple:
        return 200, project_json(self.project, PROJECT_ID, self.member, self.variables_role)

    def _raw_file(self, call: RecordedCall, path: str) -> tuple:
        if unquote(path) != ".gitlab-ci.yml":
            return 404, {"message": "404 File Not Found"}
        return 200, self.ci_config

    def _full(self, pipeline_id: int) -> dict:
        pipeline = self.pipelines[pipeline_id]
        return _public(pipeline) | {
            "before_sha": "0" * 40,
            "tag": False,
            "yaml_errors": None,
            "user": {"username": pipeline["_user"]},
            "started_at": None,
            "finished_at": None,
            "duration": None,
            "coverage": None,
            "detailed_status": {"text": pipeline["status"], "group": pipeline["status"]},
        }


def _public(pipeline: dict) -> dict:
    return {k: v for k, v in pipeline.items() if not k.startswith("_")}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
