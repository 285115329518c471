"""A fake GitLab on 127.0.0.1: the REST API v4 endpoints Tower's GitLab forge uses, over the in-memory
repository of `gitlab_repo`, with GitLab's status codes, error bodies, pagination headers and token check.

Every request is recorded as it arrived (the path still url-encoded, as GitLab routes it), and tests can
inject faults: a status instead of an answer, a write applied but answered too late, or something done
just before a request is handled (a push from elsewhere).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.faults import Faults
from tests.fakes.gitlab_access import MAINTAINER, Member, project_json
from tests.fakes.gitlab_pages import offset_page, tags_page
from tests.fakes.gitlab_repo import PROJECT_ID, Repo
from tests.fakes.gitlab_statuses import CommitStatuses
from tests.fakes.local_server import LocalServer
from tests.fakes.rate_limits import GitLabThrottle

DEFAULT_BRANCH = "main"


@dataclass
class RecordedCall:
    method: str
    path: str  # as received, still url-encoded: /api/v4/projects/group%2Fproject/repository/...
    query: dict[str, str]
    json: Any  # the JSON body, None without one
    headers: CIMultiDict[str]
    status: int | None = None  # None while it is being answered


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _error(status: int, message: str) -> web.Response:
    return _json({"message": message}, status)


class FakeGitLab(LocalServer):
    def __init__(
        self,
        project: str = "group/project",
        token: str | None = "glpat-fake-token",
        *,
        readonly_token: str | None = None,
        max_per_page: int = 100,
    ):
        super().__init__()
        self.project = project
        self.token = token  # None: anyone may do anything
        self.readonly_token = readonly_token  # a token with only the read_api scope
        self.max_per_page = max_per_page  # GitLab's is 100; lower it to force several pages
        self.calls: list[RecordedCall] = []
        self.repo = Repo(project, "")
        self.statuses = CommitStatuses()  # what CI reported on commits
        self.throttle = GitLabThrottle()  # tie its `now` to a test's clock to test waiting
        self.role = MAINTAINER  # the tokens' user's role in the project
        self._faults = Faults()  # "fail" (a status), "delay" (seconds), "before" (an action); one per request
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., web.Response]]] = [
            (m, re.compile(p), h)
            for m, p, h in [
                ("GET", r"/repository/files/(?P<file>[^/]+)/raw", self._raw),
                ("GET|HEAD", r"/repository/files/(?P<file>[^/]+)", self._file),
                ("GET", r"/repository/tree", self._tree),
                ("GET", r"/repository/branches/(?P<name>[^/]+)", self._branch),
                ("POST", r"/repository/branches", self._create_branch),
                ("DELETE", r"/repository/branches/(?P<name>[^/]+)", self._delete_branch),
                ("GET", r"/repository/commits/(?P<ref>[^/]+)/statuses", self._statuses),
                ("GET", r"/repository/commits/(?P<ref>[^/]+)", self._commit),
                ("GET", r"/repository/commits", self._commits),
                ("POST", r"/repository/commits", self._create_commit),
                ("GET", r"/repository/tags/(?P<name>[^/]+)", self._tag),
                ("GET", r"/repository/tags", self._tags),
                ("POST", r"/repository/tags", self._create_tag),
                ("GET", r"/repository/compare", self._compare),
                ("GET", r"/releases/(?P<tag>[^/]+)", self._release),
                ("POST", r"/releases", self._create_release),
                ("GET|PUT", r"/issues/(?P<iid>[0-9]+)", self._issue),
                ("POST", r"/issues", self._create_issue),
            ]
        ]

    # -- lifecycle and test controls ---------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    async def start(self) -> None:
        await super().start()
        self.repo.web_base = self.base_url

    @property
    def api_url(self) -> str:
        assert self.base_url, "FakeGitLab.start() first"
        return f"{self.base_url}/api/v4"

    def seed(self, seed: list[dict[str, Any]]) -> list[str]:
        """Commit each SEED entry on main (its files on top of the previous tree), tag those with a
        "tag": (name, message), and return the commits' shas."""
        shas = []
        for entry in seed:
            shas.append(self.repo.push(DEFAULT_BRANCH, entry["message"], entry["files"]))
            if "tag" in entry:
                self.repo.tag(entry["tag"][0], shas[-1], entry["tag"][1])
        return shas

    def fail_next(
        self, method: str, path_regex: str, status: int = 502, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """The next `count` matching requests get `status` (and `headers`) and change nothing."""
        self._faults.add("fail", method, path_regex, (status, headers or {}), count)

    def timeout_next(self, method: str, path_regex: str, count: int = 1, delay: float = 5.0) -> None:
        """The next `count` matching requests are carried out, then answered only after `delay`
        seconds (past the client's timeout): the client can't know whether they happened."""
        self._faults.add("delay", method, path_regex, delay, count)

    def before_next(self, method: str, path_regex: str, action: Callable[[Repo], object], count: int = 1) -> None:
        """Run `action(repo)` just before handling the next matching request (a concurrent push)."""
        self._faults.add("before", method, path_regex, action, count)

    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.method == method and re.search(path_regex, c.path)]

    # -- the HTTP side -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.rel_url.raw_path  # request.path would decode group%2Fproject
        body = await request.json() if request.body_exists and request.content_type == "application/json" else None
        call = RecordedCall(request.method, path, dict(request.query), body, CIMultiDict(request.headers))
        self.calls.append(call)
        fault = self._faults.take_fault(request.method, path)
        kind, value = (fault.kind, fault.value) if fault else (None, None)
        if kind == "fail" and value:
            response = _error(value[0], f"{value[0]} {HTTPStatus(value[0]).phrase}")
            response.headers.update(value[1])
        elif (refused := self.throttle.refusal()) is not None:
            status, text, headers = refused
            response = web.Response(text=str(text), status=status, headers=headers)
        else:
            if kind == "before" and value:
                value(self.repo)
            args = {**request.query, **(body if isinstance(body, dict) else {})}
            response = self._answer(request, path, args)
        call.status = response.status
        for name, header in self.throttle.headers().items():
            response.headers.setdefault(name, header)
        if kind == "delay" and value:
            await self._sleep(value)
        return response

    def _answer(self, request: web.Request, path: str, args: dict[str, Any]) -> web.Response:
        refused = self._check_token(request)
        if refused is not None:
            return refused
        if request.method == "GET" and (about := self._about(request, path)) is not None:
            return about
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/.*)", path)
        if match is None:
            return _error(404, "404 Not Found")
        if unquote(match[1]) not in (self.project, str(PROJECT_ID)):
            return _error(404, "404 Project Not Found")
        for methods, pattern, handler in self._routes:
            found = pattern.fullmatch(match[2])
            if found and request.method in methods.split("|"):
                return handler(args, request.method, **{k: unquote(v) for k, v in found.groupdict().items()})
        return _error(404, "404 Not Found")

    def _about(self, request: web.Request, path: str) -> web.Response | None:
        """The token (doc/api/personal_access_tokens.md) and the project as its user sees it."""
        given = request.headers.get("PRIVATE-TOKEN", "")
        member = Member("tower-bot", self.role, given, ("read_api",) if given == self.readonly_token else ("api",))
        if path == "/api/v4/personal_access_tokens/self":
            return _json(member.token_json())
        if path in (f"/api/v4/projects/{PROJECT_ID}", f"/api/v4/projects/{self.project.replace('/', '%2F')}"):
            return _json(project_json(self.project, PROJECT_ID, member, "developer"))
        return None

    def _check_token(self, request: web.Request) -> web.Response | None:
        if self.token is None:
            return None
        bearer = request.headers.get("Authorization", "")
        given = request.headers.get("PRIVATE-TOKEN") or (bearer[7:] if bearer.startswith("Bearer ") else None)
        if given == self.token or (given and given == self.readonly_token and request.method in ("GET", "HEAD")):
            return None
        if given and given == self.readonly_token:
            return _json(
                {
                    "error": "insufficient_scope",
                    "scope": "api",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                },
                403,
            )
        return _error(401, "401 Unauthorized")

    def _page(self, args: dict[str, Any], items: list[Any]) -> web.Response:
        shown, headers = offset_page(args, items, self.max_per_page)
        return _json(shown, headers=headers)

    # -- endpoints ---------------------------------------------------------------------------------

    def _raw(self, args: dict[str, Any], method: str, file: str) -> web.Response:
        commit = self.repo.resolve(args.get("ref", DEFAULT_BRANCH))
        if commit is None:
            return _error(404, "404 Commit Not Found")
        if file not in commit.files:
            return _error(404, "404 File Not Found")
        return web.Response(text=commit.files[file], content_type="text/plain", charset="utf-8")

    def _file(self, args: dict[str, Any], method: str, file: str) -> web.Response:
        commit = self.repo.resolve(args.get("ref", ""))
        if commit is None or file not in commit.files:
            return _error(404, f"404 {'Commit' if commit is None else 'File'} Not Found")
        content = commit.files[file].encode()
        meta = {
            "file_name": file.rsplit("/", 1)[-1],
            "file_path": file,
            "size": len(content),
            "encoding": "base64",
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "ref": args["ref"],
            "blob_id": hashlib.sha1(content).hexdigest(),
            "commit_id": commit.sha,
            "last_commit_id": self.repo.last_commit_for(file, commit.sha),
            "execute_filemode": False,
        }
        headers = {f"X-Gitlab-{k.replace('_', '-').title()}": str(v) for k, v in meta.items()}
        if method == "HEAD":
            return web.Response(headers=headers)
        return _json({**meta, "content": base64.b64encode(content).decode()}, headers=headers)

    def _tree(self, args: dict[str, Any], method: str) -> web.Response:
        commit = self.repo.resolve(args.get("ref", DEFAULT_BRANCH))
        if commit is None:
            return _error(404, "404 Tree Not Found")
        entries = self.repo.tree(args.get("path", ""), commit.sha)
        return _error(404, "404 invalid revision or path Not Found") if entries is None else self._page(args, entries)

    def _branch(self, args: dict[str, Any], method: str, name: str) -> web.Response:
        if name not in self.repo.branches:
            return _error(404, "404 Branch Not Found")
        return _json(self.repo.branch_json(name))

    def _delete_branch(self, args: dict[str, Any], method: str, name: str) -> web.Response:
        if self.repo.branches.pop(name, None) is None:
            return _error(404, "404 Branch Not Found")
        return web.Response(status=204)

    def _create_branch(self, args: dict[str, Any], method: str) -> web.Response:
        for required in ("branch", "ref"):
            if not args.get(required):
                return _json({"error": f"{required} is missing"}, 400)
        if args["branch"] in self.repo.branches:
            return _error(400, "Branch already exists")
        commit = self.repo.resolve(args["ref"])
        if commit is None:
            return _error(400, f"Invalid reference name: {args['ref']}")
        self.repo.branches[args["branch"]] = commit.sha
        return _json(self.repo.branch_json(args["branch"]), 201)

    def _commit(self, args: dict[str, Any], method: str, ref: str) -> web.Response:
        commit = self.repo.resolve(ref)
        if commit is None:
            return _error(404, "404 Commit Not Found")
        return _json(self.repo.commit_json(commit, detail=True))

    def _statuses(self, args: dict[str, Any], method: str, ref: str) -> web.Response:
        commit = self.repo.resolve(ref)
        if commit is None:
            return _error(404, "404 Commit Not Found")
        return self._page(args, self.statuses.by_sha.get(commit.sha, []))

    def _commits(self, args: dict[str, Any], method: str) -> web.Response:
        commit = self.repo.resolve(args.get("ref_name", DEFAULT_BRANCH))
        if commit is None:
            return _error(404, "404 Reference Not Found")
        return self._page(args, [self.repo.commit_json(c) for c in self.repo.log(commit.sha)])

    def _create_commit(self, args: dict[str, Any], method: str) -> web.Response:
        # The checks of GitLab's Commits::CreateService and Files::MultiService, in their order.
        branch, start_sha, force = args.get("branch"), args.get("start_sha"), bool(args.get("force"))
        start_branch = args.get("start_branch") or (None if start_sha else branch)
        if not branch or not args.get("commit_message") or not isinstance(args.get("actions"), list):
            return _json({"error": "branch, commit_message, actions are missing"}, 400)
        if start_sha and start_branch:
            return _error(400, "You can't pass both start_branch and start_sha")
        if start_sha and start_sha not in self.repo.commits:
            return _error(400, f"Cannot find start_sha '{start_sha}'")
        if start_branch and start_branch not in self.repo.branches:
            return _error(400, "You can only create or edit files when you are on a branch")
        if (start_sha or start_branch != branch) and branch in self.repo.branches and not force:
            return _error(
                400, f"A branch called '{branch}' already exists. Switch to that branch in order to make changes"
            )
        parent = start_sha or self.repo.branches[start_branch]
        changes: dict[str, str | None] = {}
        for action in args["actions"]:
            path, kind = action.get("file_path", ""), action.get("action")
            last = self.repo.last_commit_for(path, parent)
            if kind == "create" and last is not None:
                return _error(400, f"A file with this name already exists: {path}")
            if kind in ("update", "delete") and last is None:
                return _error(400, f"A file with this name doesn't exist: {path}")
            if kind not in ("create", "update", "delete"):
                return _error(400, f"Unknown action '{kind}'")
            if action.get("last_commit_id") and action["last_commit_id"] != last:
                return _error(400, f"The file has changed since you started editing it: {path}")
            changes[path] = None if kind == "delete" else action.get("content", "")
        new = self.repo.commit(parent, args["commit_message"], changes)
        self.repo.branches[branch] = new.sha
        return _json(self.repo.commit_json(new, detail=True), 201)

    def _tags(self, args: dict[str, Any], method: str) -> web.Response:
        newest_first = sorted(self.repo.tags.values(), key=lambda t: -t.seq)  # order_by=updated, sort=desc
        shown, headers = tags_page(args, [t.name for t in newest_first], self.max_per_page)
        return _json([self.repo.tag_json(name) for name in shown], headers=headers)

    def _tag(self, args: dict[str, Any], method: str, name: str) -> web.Response:
        return _json(self.repo.tag_json(name)) if name in self.repo.tags else _error(404, "404 Tag Not Found")

    def _create_tag(self, args: dict[str, Any], method: str) -> web.Response:
        name, ref = args.get("tag_name"), args.get("ref")
        if not name or not ref:
            return _json({"error": "tag_name, ref are missing"}, 400)
        if name in self.repo.tags:
            return _error(400, f"Tag {name} already exists")
        commit = self.repo.resolve(ref)
        if commit is None:
            return _error(400, f"Target {ref} is invalid")
        self.repo.tag(name, commit.sha, args.get("message") or None)
        return _json(self.repo.tag_json(name), 201)

    def _compare(self, args: dict[str, Any], method: str) -> web.Response:
        old, new = self.repo.resolve(args.get("from", "")), self.repo.resolve(args.get("to", ""))
        if old is None or new is None:
            return _error(404, "404 Ref Not Found")
        behind = {c.sha for c in self.repo.log(old.sha)}
        commits = [self.repo.commit_json(c) for c in reversed(self.repo.log(new.sha)) if c.sha not in behind]
        return _json(
            {
                "commit": commits[-1] if commits else None,
                "commits": commits,
                "diffs": [],
                "compare_timeout": False,
                "compare_same_ref": args["from"] == args["to"],
                "web_url": f"{self.repo.web_url}/-/compare/{old.sha}...{new.sha}",
            }
        )

    def _release(self, args: dict[str, Any], method: str, tag: str) -> web.Response:
        return _json(self.repo.releases[tag]) if tag in self.repo.releases else _error(404, "404 Not Found")

    def _create_release(self, args: dict[str, Any], method: str) -> web.Response:
        tag = args.get("tag_name")
        if not tag:
            return _json({"error": "tag_name is missing"}, 400)
        if tag in self.repo.releases:
            return _error(409, "Release already exists")
        if tag not in self.repo.tags:
            commit = self.repo.resolve(args.get("ref", ""))
            if commit is None:
                return _error(422, "Ref is not specified")
            self.repo.tag(tag, commit.sha, None)  # GitLab makes a lightweight tag at `ref`
        release = self.repo.release_json(tag, args.get("name") or tag, args.get("description", ""))
        self.repo.releases[tag] = release
        return _json(release, 201)

    def _create_issue(self, args: dict[str, Any], method: str) -> web.Response:
        if not args.get("title"):
            return _json({"error": "title is missing"}, 400)
        if not str(args["title"]).strip():
            return _json({"message": {"title": ["can't be blank"]}}, 400)
        return _json(self.repo.open_issue(args["title"], args.get("description")), 201)

    def _issue(self, args: dict[str, Any], method: str, iid: str) -> web.Response:
        if int(iid) not in self.repo.issues:
            return _error(404, "404 Not found")
        if method == "GET":
            return _json(self.repo.issues[int(iid)])
        changes = {k: args[k] for k in ("title", "description") if k in args}
        if not changes:
            return _json({"error": "title, description are missing, at least one parameter must be provided"}, 400)
        if "title" in changes and not str(changes["title"] or "").strip():
            return _json({"message": {"title": ["can't be blank"]}}, 400)
        return _json(self.repo.edit_issue(int(iid), changes))
