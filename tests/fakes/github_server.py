"""A fake GitHub REST API v3 on 127.0.0.1, over the in-memory git repository of ``github_git``.

It answers the endpoints Tower's GitHub forge uses, with GitHub's JSON shapes, status codes and error
bodies, ``Link`` pagination, bearer-token auth and API-version checks. Every request is recorded; faults
(``fail_next``, ``timeout_next``) are injected by method and path regex."""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.faults import Faults
from tests.fakes.github_checks import CommitChecks
from tests.fakes.github_contents import Contents, media_type
from tests.fakes.github_git import DOCS, GitStore, IssueTracker, Releases
from tests.fakes.github_shapes import Shapes
from tests.fakes.github_tokens import Grant, area
from tests.fakes.local_server import LocalServer
from tests.fakes.rate_limits import GitHubRateLimit

API_VERSION = "2022-11-28"
NOT_FOUND = (404, {"message": "Not Found", "documentation_url": DOCS})
Answer = tuple  # (status, body) or (status, body, headers)


@dataclass
class RecordedCall:
    method: str
    path: str  # as sent, e.g. "/repos/acme/demo/git/refs"
    query: dict[str, str]
    json: Any
    headers: CIMultiDict[str]
    status: int | None = None  # what it did; set before an injected delay, None until then
    response: Any = None

    @property
    def rel(self) -> str:
        """The path below /repos/{owner}/{repo}/ ("" for the repository itself)."""
        return re.sub(r"^/repos/[^/]+/[^/]+/?", "", self.path)

    @classmethod
    async def read(cls, request: web.Request) -> RecordedCall:
        """The request as received; its `json` is ``...`` when the body is not JSON."""
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = ...
        return cls(request.method, request.path, dict(request.query), body, CIMultiDict(request.headers))


def check_headers(call: RecordedCall, token: str) -> Answer | None:
    """GitHub's refusal of a call without the bearer `token`, a GitHub media type or the API version."""
    if call.headers.get("Authorization") != f"Bearer {token}":
        message = "Bad credentials" if "Authorization" in call.headers else "Requires authentication"
        return 401, {"message": message, "documentation_url": DOCS}
    if media_type(call.headers.get("Accept", "")) is None:
        return 415, {"message": f"Unsupported 'Accept' header: {call.headers.get('Accept')!r}"}
    if call.headers.get("X-GitHub-Api-Version") != API_VERSION:
        version = call.headers.get("X-GitHub-Api-Version")
        return 400, {"message": f"API version {version} is not supported.", "documentation_url": DOCS}
    return None


class FakeGitHub(LocalServer):
    def __init__(self, repository: str = "acme/demo", token: str = "ghp_fake", *, max_per_page: int = 100):
        super().__init__()
        self.repository, self.token = repository, token
        self.max_per_page = max_per_page  # lower it to force several pages
        self.git = GitStore()
        self.contents = Contents(self.git, self._api, self._html, repository)  # size limits live there
        self.limits = GitHubRateLimit()  # tie its `now` to a test's clock to test waiting
        self.grant = Grant()  # what the token may do: every permission Tower needs, unless a test says less
        self.has_issues = True
        self.shapes = Shapes(self.git, self._api, self._html)
        self.release_shelf = Releases(self.git, self._api, self._html)
        self.releases = self.release_shelf.items
        self.issues = IssueTracker(self.git, self._api, self._html)
        self.checks = CommitChecks(self._api, self._html)  # what CI reported on commits
        self.calls: list[RecordedCall] = []
        self._faults = Faults()  # "fail" (a status), "delay" (seconds), "hook" (an action)
        self._routes = [(m, re.compile(p), h) for m, p, h in self._route_table()]

    # -- lifecycle and test controls ---------------------------------------------------------
    def _add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._handle)

    def seed(self, commits: list[dict]) -> list[str]:
        """The repository becomes SEED on `main`; returns the commit shas in order."""
        return self.git.seed(commits)

    def fail_next(
        self, method: str, path_regex: str, status: int = 502, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next `count` matching requests with `status` (and `headers`), without acting on them."""
        self._faults.add("fail", method, path_regex, (status, headers or {}), count)

    def timeout_next(self, method: str, path_regex: str, delay: float = 5.0, count: int = 1) -> None:
        """Act on the next matching requests, then answer only after `delay` (past the client's
        timeout): the client can't know whether its write happened."""
        self._faults.add("delay", method, path_regex, delay, count)

    def on_next(self, method: str, path_regex: str, action: Callable[[], None], count: int = 1) -> None:
        """Run `action` just before handling the next matching requests (another writer, say)."""
        self._faults.add("hook", method, path_regex, action, count)

    def calls_since(self, index: int) -> list[tuple[str, str]]:
        return [(c.method, c.rel) for c in self.calls[index:]]

    # -- plumbing ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        call = await RecordedCall.read(request)
        self.calls.append(call)
        failure = self._faults.take("fail", call.method, call.path)
        if failure is not None:
            answer: Answer = (failure[0], {"message": "Server Error"}, failure[1])
        elif (refused := self.limits.refusal()) is not None:
            answer = refused
        elif call.json is ...:
            answer = (400, {"message": "Problems parsing JSON", "documentation_url": DOCS})
        else:
            if hook := self._faults.take("hook", call.method, call.path):
                hook()
            answer = check_headers(call, self.token) or self._route(call)
        status, payload, headers = (*answer, {})[:3]
        call.status, call.response = status, payload
        if delay := self._faults.take("delay", call.method, call.path):
            await self._sleep(delay)
        headers = self.limits.headers() | self.grant.headers() | headers
        if isinstance(payload, bytes):  # the raw media type
            return web.Response(body=payload, status=status, headers=headers, content_type="application/vnd.github.raw")
        return web.json_response(payload, status=status, headers=headers)

    def _route(self, call: RecordedCall) -> Answer:
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)?", call.path)
        if not match or match[1] != self.repository:
            return NOT_FOUND
        if refused := self.grant.refusal(area(match[2] or ""), call.method):
            return refused
        for method, pattern, handler in self._routes:
            found = pattern.fullmatch(match[2] or "")
            if method == call.method and found:
                return handler(call, *found.groups())
        return NOT_FOUND

    def _route_table(self) -> list[tuple[str, str, Callable[..., Answer]]]:
        return [
            ("GET", r"/?", self._repo),
            ("GET", r"/contents/?(.*)", self._contents),
            ("GET", r"/commits", self._list_commits),
            ("GET", r"/commits/([^/]+)/status", self._commit_status),
            ("GET", r"/commits/([^/]+)/check-runs", self._check_runs),
            ("GET", r"/commits/(.+)", self._get_commit),
            ("GET", r"/compare/(.+?)\.\.\.(.+)", self._compare),
            ("GET", r"/tags", self._tags),
            ("GET", r"/git/commits/([0-9a-f]{40})", self._git_commit),
            ("POST", r"/git/commits", self._new_commit),
            ("GET", r"/git/blobs/([0-9a-f]{40})", lambda call, sha: self.contents.blob(sha)),
            ("GET", r"/git/trees/(.+)", lambda call, sha: self.contents.tree(sha, "recursive" in call.query)),
            ("POST", r"/git/blobs", self._new_blob),
            ("POST", r"/git/trees", self._new_tree),
            ("GET", r"/git/ref/(.+)", self._ref),
            ("POST", r"/git/refs", self._new_ref),
            ("PATCH", r"/git/refs/(.+)", self._move_ref),
            ("GET", r"/git/tags/([0-9a-f]{40})", self._tag),
            ("POST", r"/git/tags", self._new_tag),
            ("POST", r"/releases", lambda call: self.release_shelf.create(call.json)),
            ("GET", r"/releases/tags/(.+)", lambda call, tag: self.release_shelf.get(tag)),
            ("POST", r"/issues", lambda call: self.issues.create(call.json)),
            ("GET", r"/issues/([0-9]+)", lambda call, number: self.issues.get(number)),
            ("PATCH", r"/issues/([0-9]+)", lambda call, number: self.issues.update(number, call.json)),
        ]

    def _paginate(self, call: RecordedCall, items: list) -> tuple[list, dict[str, str]]:
        per_page = max(1, min(int(call.query.get("per_page", 30)), self.max_per_page, 100))
        page, last = max(1, int(call.query.get("page", 1))), max(1, math.ceil(len(items) / per_page))

        def link(number: int, rel: str) -> str:
            query = urlencode({**call.query, "page": number})
            return f'<{self.base_url}{quote(call.path)}?{query}>; rel="{rel}"'

        links = [link(page + 1, "next"), link(last, "last")] if page < last else []
        links += [link(page - 1, "prev"), link(1, "first")] if page > 1 else []
        return items[(page - 1) * per_page : page * per_page], ({"Link": ", ".join(links)} if links else {})

    # -- JSON shapes -----------------------------------------------------------------------------
    def _api(self, rest: str) -> str:
        return f"{self.base_url}/repos/{self.repository}/{rest}"

    def _html(self, rest: str) -> str:
        return f"https://github.com/{self.repository}/{rest}"

    # -- repository, contents, commits ---------------------------------------------------------
    def _repo(self, call: RecordedCall) -> Answer:
        owner, name = self.repository.split("/")
        return 200, {
            "id": 1,
            "name": name,
            "full_name": self.repository,
            "private": True,
            "owner": {"login": owner},
            "html_url": self._html("")[:-1],
            "url": self._api("")[:-1],
            "default_branch": "main",
            "has_issues": self.has_issues,
            "permissions": self.grant.repository_permissions(),
        }

    def _contents(self, call: RecordedCall, path: str) -> Answer:
        return self.contents.get(path, call.query.get("ref"), call.headers.get("Accept", ""))

    def _get_commit(self, call: RecordedCall, ref: str) -> Answer:
        if not self.git.refs:
            return 409, {"message": "Git Repository is empty.", "documentation_url": DOCS}
        sha = self.git.rev(ref)
        if sha is None:
            return 422, {"message": f"No commit found for SHA: {ref}", "documentation_url": DOCS}
        return 200, self.shapes.commit(sha) | {"stats": {"total": 0, "additions": 0, "deletions": 0}, "files": []}

    def _commit_status(self, call: RecordedCall, ref: str) -> Answer:
        sha = self.git.rev(ref)
        if sha is None:
            return 422, {"message": f"No commit found for SHA: {ref}", "documentation_url": DOCS}
        statuses = self.checks.statuses.get(sha, [])
        page, headers = self._paginate(call, statuses)
        return 200, self.checks.combined(sha, page, len(statuses)), headers

    def _check_runs(self, call: RecordedCall, ref: str) -> Answer:
        sha = self.git.rev(ref)
        if sha is None:
            return 422, {"message": f"No commit found for SHA: {ref}", "documentation_url": DOCS}
        runs = self.checks.listed(sha, call.query.get("filter", "latest"))
        page, headers = self._paginate(call, runs)
        return 200, {"total_count": len(runs), "check_runs": page}, headers

    def _list_commits(self, call: RecordedCall) -> Answer:
        if not self.git.refs:
            return 409, {"message": "Git Repository is empty.", "documentation_url": DOCS}
        head = self.git.rev(call.query.get("sha", "main"))
        if head is None:
            return NOT_FOUND
        page, headers = self._paginate(call, self.git.log(head))
        return 200, [self.shapes.commit(s) for s in page], headers

    def _compare(self, call: RecordedCall, base: str, head: str) -> Answer:
        base_sha, head_sha = self.git.rev(base), self.git.rev(head)
        if base_sha is None or head_sha is None:
            return NOT_FOUND
        ahead, behind = self.git.log(head_sha, base_sha), self.git.log(base_sha, head_sha)
        status = (
            "identical"
            if not ahead and not behind
            else "diverged"
            if ahead and behind
            else "ahead"
            if ahead
            else "behind"
        )
        page, headers = self._paginate(call, ahead[::-1])  # oldest first, like GitHub
        return (
            200,
            {
                "url": self._api(f"compare/{base}...{head}"),
                "html_url": self._html(f"compare/{base}...{head}"),
                "base_commit": self.shapes.commit(base_sha),
                "status": status,
                "ahead_by": len(ahead),
                "behind_by": len(behind),
                "total_commits": len(ahead),
                "commits": [self.shapes.commit(s) for s in page],
                "files": [],
            },
            headers,
        )

    def _tags(self, call: RecordedCall) -> Answer:
        names = sorted((r[len("refs/tags/") :] for r in self.git.refs if r.startswith("refs/tags/")), reverse=True)
        page, headers = self._paginate(call, names)
        return (
            200,
            [
                {
                    "name": n,
                    "commit": {
                        "sha": (c := self.git.peel(self.git.refs[f"refs/tags/{n}"])),
                        "url": self._api(f"commits/{c}"),
                    },
                    "zipball_url": self._api(f"zipball/refs/tags/{n}"),
                    "tarball_url": self._api(f"tarball/refs/tags/{n}"),
                    "node_id": f"REF_{n}",
                }
                for n in page
            ],
            headers,
        )

    # -- git data --------------------------------------------------------------------------------
    def _git_commit(self, call: RecordedCall, sha: str) -> Answer:
        return (200, self.shapes.git_commit(sha)) if self.git.kind(sha) == "commit" else NOT_FOUND

    def _new_blob(self, call: RecordedCall) -> Answer:
        body = call.json or {}
        if not isinstance(body.get("content"), str):
            return 422, {"message": 'Invalid request.\n\n"content" wasn\'t supplied.', "documentation_url": DOCS}
        data = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
        sha = self.git.blob(data)
        return 201, {"sha": sha, "url": self._api(f"git/blobs/{sha}")}

    def _new_tree(self, call: RecordedCall) -> Answer:
        body = call.json or {}
        base = body.get("base_tree")
        if base is not None and self.git.kind(base) != "tree":
            return 422, {"message": "base_tree is not a valid tree oid", "documentation_url": DOCS}
        files = self.git.files(base) if base else {}
        for entry in body.get("tree", []):
            path = entry["path"].strip("/")
            if "content" in entry:
                files[path] = (entry.get("mode", "100644"), self.git.blob(entry["content"].encode()))
            elif entry.get("sha") is None:
                # git/create-tree: `sha: null` deletes a file of the base tree. A path the base tree has no file
                # at (absent, or a directory) is refused with 422 GitRPC::BadObjectState, which the description
                # leaves out; its clients report it (google/go-github#2418).
                if path not in files:
                    return 422, {
                        "message": "GitRPC::BadObjectState",
                        "documentation_url": f"{DOCS}/git/trees#create-a-tree",
                    }
                del files[path]
            elif self.git.kind(entry["sha"]) != "blob":
                return 422, {"message": f"tree.sha {entry['sha']} is not a valid blob", "documentation_url": DOCS}
            else:
                files[path] = (entry.get("mode", "100644"), entry["sha"])
        sha = self.git.write_tree(files)
        listing = [
            {"path": n, "mode": m, "type": k, "sha": s, "url": self._api(f"git/{k}s/{s}")}
            for n, m, k, s in self.git.objects[sha]["entries"]
        ]
        return 201, {"sha": sha, "url": self._api(f"git/trees/{sha}"), "tree": listing, "truncated": False}

    def _new_commit(self, call: RecordedCall) -> Answer:
        body = call.json or {}
        if self.git.kind(body.get("tree")) != "tree":
            return 422, {"message": "Tree SHA does not exist", "documentation_url": DOCS}
        if any(self.git.kind(p) != "commit" for p in body.get("parents", [])):
            return 422, {"message": "Parent SHA does not exist or is not a commit object", "documentation_url": DOCS}
        sha = self.git.commit(body["tree"], list(body.get("parents", [])), body.get("message", ""))
        return 201, self.shapes.git_commit(sha)

    def _ref(self, call: RecordedCall, ref: str) -> Answer:
        return (200, self.shapes.ref(f"refs/{ref}")) if f"refs/{ref}" in self.git.refs else NOT_FOUND

    def _new_ref(self, call: RecordedCall) -> Answer:
        body = call.json or {}
        ref, sha = body.get("ref", ""), body.get("sha")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            return 422, {"message": f"{ref} is not a valid ref name.", "documentation_url": DOCS}
        if self.git.kind(sha) is None:
            return 422, {"message": "Object does not exist", "documentation_url": DOCS}
        if ref in self.git.refs:
            return 422, {"message": "Reference already exists", "documentation_url": DOCS}
        self.git.refs[ref] = sha
        return 201, self.shapes.ref(ref)

    def _move_ref(self, call: RecordedCall, ref: str) -> Answer:
        body, ref = call.json or {}, f"refs/{ref}"
        if ref not in self.git.refs:
            return 422, {"message": "Reference does not exist", "documentation_url": DOCS}
        if self.git.kind(body.get("sha")) is None:
            return 422, {"message": "Object does not exist", "documentation_url": DOCS}
        current, new = self.git.refs[ref], body["sha"]
        if not body.get("force") and (self.git.kind(new) != "commit" or current not in self.git.ancestors(new)):
            return 422, {"message": "Update is not a fast forward", "documentation_url": DOCS}
        self.git.refs[ref] = new
        return 200, self.shapes.ref(ref)

    def _tag(self, call: RecordedCall, sha: str) -> Answer:
        return (200, self.shapes.tag(sha)) if self.git.kind(sha) == "tag" else NOT_FOUND

    def _new_tag(self, call: RecordedCall) -> Answer:
        body = call.json or {}
        if self.git.kind(body.get("object")) is None:
            return 422, {"message": "Object does not exist", "documentation_url": DOCS}
        sha = self.git.tag(body.get("tag", ""), body["object"], body.get("message", ""), body.get("tagger"))
        return 201, self.shapes.tag(sha)
