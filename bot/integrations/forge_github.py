"""The Forge port on GitHub, through the REST API v3 (and ApiClient: retries, error mapping, no tokens).

Reads use the contents and commits APIs. Writes use the git data API, so that several files change in
one commit and a branch only ever moves by a fast-forward from the commit the caller saw.

The contents API (repos/get-content) serves files over 1 MB only in its `raw` and `object` media types
(the default JSON answers 403 too_large) and lists at most 1,000 entries of a directory: Tower asks for
`object` and reads bigger files as blobs (git/get-blob, to 100 MB) and bigger directories as trees
(git/get-tree).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx

from bot.integrations.http import ApiClient
from bot.integrations.rate_limits import Waiting
from commands.engine.ports import Commit, ForgeConflict, ForgeNotFound, ForgeUnavailable, Issue, Tag
from commands.rules.ci_status import Verdict, combine, github_check_run, github_status

API_VERSION = "2022-11-28"
PER_PAGE = 100  # GitHub's maximum: fewest round trips
OBJECT = "application/vnd.github.object+json"  # repos/get-content: one object for a file or a directory
DIR_LIMIT = 1000  # entries of a directory repos/get-content lists at most
MOVED = "Someone else changed the repository meanwhile; check it and run the command again."


class GitHubForge:
    def __init__(
        self,
        repository: str,
        token: str | None,
        api_url: str = "https://api.github.com",
        *,
        token_env: str = "GITHUB_TOKEN",
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 20.0,
        waiting: Waiting | None = None,
    ):
        self.repository = repository
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": "tower"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        need = f'a GitHub token that can see {repository} with the "contents: write" and "issues: write" permissions'
        hint = f"Check that {token_env} holds {need}." if token else f"Set {token_env} to {need}."
        self.api = ApiClient(
            api_url, headers, service="GitHub", token_hint=hint, timeout=timeout, transport=transport, waiting=waiting
        )
        self._base = f"repos/{repository}"

    async def close(self) -> None:
        await self.api.close()

    # -- plumbing -----------------------------------------------------------------------------
    async def _get(
        self, path: str, ok: tuple[int, ...] = (), accept: str | None = None, **params: str
    ) -> httpx.Response:
        headers = {"Accept": accept} if accept else None
        return await self.api.request("GET", f"{self._base}/{path}", ok=ok, params=params or None, headers=headers)

    async def _post(self, path: str, body: dict, ok: tuple[int, ...] = ()) -> httpx.Response:
        # Every POST here is safe to repeat after a lost answer: it either makes an object that nothing
        # references yet (blob, tree, commit, tag object), or it meets "already exists", which is checked.
        return await self.api.request("POST", f"{self._base}/{path}", json=body, ok=ok, idempotent=True)

    async def _pages(self, path: str, **params: str) -> AsyncIterator:
        """Each page's JSON, following the `Link: <…>; rel="next"` header."""
        url: str | None = f"{self._base}/{path}"
        query: dict[str, str | int] | None = {**params, "per_page": PER_PAGE}
        while url:
            response = await self.api.request("GET", url, params=query)
            yield response.json()
            url, query = response.links.get("next", {}).get("url"), None
            if url and not url.startswith(str(self.api.client.base_url)):
                # The client sends the token with every request: never outside the API.
                raise ForgeUnavailable(f"GitHub sent a next-page link outside its API ({httpx.URL(url).host}).")

    async def _ref_target(self, ref: str) -> str:
        """The commit a ref ("heads/x", "tags/x") points at, peeling annotated tags."""
        obj = (await self._get(f"git/ref/{_q(ref)}")).json()["object"]
        while obj["type"] == "tag":
            obj = (await self._get(f"git/tags/{obj['sha']}")).json()["object"]
        return obj["sha"]

    async def _commit(self, ref: str) -> Commit | None:
        response = await self._get(f"commits/{_q(ref)}", ok=(404, 409, 422))
        if response.status_code == 404:
            # GitHub says 422 for an unknown ref, but 404 also covers a missing repository: tell them apart.
            await self.api.request("GET", self._base)
            return None
        if response.status_code != 200:  # 422: no such commit; 409: the repository is empty
            return None
        body = response.json()
        return Commit(sha=body["sha"], message=body["commit"]["message"].rstrip("\n"))

    async def _contents(self, path: str, ref: str) -> dict | None:
        response = await self._get(f"contents/{_q(path.strip('/'))}", ok=(404,), accept=OBJECT, ref=ref)
        if response.status_code == 200:
            return response.json()
        # 404 means a missing path, or a missing ref/repository: only the first is a plain "no".
        if await self.resolve(ref) is None:
            raise ForgeNotFound(
                f"{self.repository} on GitHub has no branch, tag or commit {ref!r}.",
                "Check the name of the branch or tag.",
            )
        return None

    # -- reading ---------------------------------------------------------------------------------
    async def read_file(self, path: str, ref: str) -> str | None:
        item = await self._contents(path, ref)
        if item is None or item.get("type") != "file":
            return None
        if item.get("encoding") != "base64":  # 1-100 MB: `object` leaves the content out ("none")
            item = (await self._get(f"git/blobs/{item['sha']}")).json()
        return _decode(item["content"])

    async def list_dir(self, path: str, ref: str) -> list[str] | None:
        item = await self._contents(path, ref)
        if item is None or item.get("type") != "dir":
            return None
        if len(item["entries"]) < DIR_LIMIT:
            return sorted(e["name"] for e in item["entries"] if e["type"] == "file")
        tree = (await self._get(f"git/trees/{item['sha']}")).json()  # every entry, where contents stops at 1,000
        if tree.get("truncated"):
            raise ForgeUnavailable(f"GitHub lists {path} of {self.repository} only in part: it is too big.")
        return sorted(e["path"] for e in tree["tree"] if e["type"] == "blob")

    async def head(self, branch: str) -> Commit | None:
        return await self._commit(f"heads/{branch}")  # "heads/": a tag of the same name must not answer

    async def resolve(self, ref: str) -> str | None:
        commit = await self._commit(ref)
        return commit.sha if commit else None

    async def tags(self, prefix: str = "") -> list[Tag]:
        # /tags comes peeled (commit shas) and paginated, without annotations, which the port allows.
        return [
            Tag(name=tag["name"], commit_sha=tag["commit"]["sha"])
            async for page in self._pages("tags")
            for tag in page
            if tag["name"].startswith(prefix)
        ]

    async def commit_messages(self, since_tag: str | None, ref: str) -> list[str]:
        if since_tag is None:
            commits = [c async for page in self._pages("commits", sha=ref) for c in page]  # newest first
        else:
            pages = self._pages(f"compare/{_q(since_tag)}...{_q(ref)}")
            commits = [c async for page in pages for c in page["commits"]][::-1]  # compare: oldest first
        return [c["commit"]["message"].rstrip("\n") for c in commits]

    async def commit_checks(self, sha: str) -> Verdict:
        """Every commit status (repos/get-combined-status-for-ref: its own `state` says "pending" when
        there are none, so the list decides) and every check run (checks/list-for-ref) on `sha`."""
        checks: list[tuple[str, str]] = []
        async for page in self._pages(f"commits/{_q(sha)}/status"):
            checks += [(status["context"], github_status(status["state"])) for status in page["statuses"]]
        async for page in self._pages(f"commits/{_q(sha)}/check-runs"):
            checks += [(run["name"], github_check_run(run["status"], run["conclusion"])) for run in page["check_runs"]]
        return combine(checks)

    # -- writing ---------------------------------------------------------------------------------
    async def create_branch(self, branch: str, from_sha: str) -> None:
        await self._create_ref(f"refs/heads/{branch}", from_sha, from_sha)

    async def move_branch(self, branch: str, sha: str) -> None:
        response = await self.api.request(
            "PATCH",
            f"{self._base}/git/refs/heads/{_q(branch)}",
            ok=(422,),
            json={"sha": sha, "force": True},
            idempotent=True,
        )
        if response.status_code == 422:
            if "does not exist" not in _message(response):
                raise self.api.error(response)
            await self._create_ref(f"refs/heads/{branch}", sha, sha)

    async def create_tag(self, name: str, commit_sha: str, message: str) -> None:
        body = {"tag": name, "message": message, "object": commit_sha, "type": "commit"}
        tag = (await self._post("git/tags", body)).json()
        await self._create_ref(f"refs/tags/{name}", tag["sha"], commit_sha)

    async def _create_ref(self, ref: str, sha: str, commit_sha: str) -> None:
        """Create `ref` at `sha`; if it exists already, fine when it leads to `commit_sha`."""
        response = await self._post("git/refs", {"ref": ref, "sha": sha}, ok=(422,))
        if response.status_code != 422:
            return
        if "already exists" not in _message(response):
            raise self.api.error(response)
        existing = await self._ref_target(ref.removeprefix("refs/"))
        if existing != commit_sha:
            raise ForgeConflict(
                f"{ref.removeprefix('refs/')} already exists on GitHub at {existing[:12]}, not at {commit_sha[:12]}.",
                MOVED,
            )

    async def commit_files(self, branch: str, message: str, changes: dict[str, str | None], parent_sha: str) -> str:
        # Check first, so a moved branch costs no objects and says where it went.
        current = (await self._get(f"git/ref/heads/{_q(branch)}")).json()["object"]["sha"]
        if current != parent_sha:
            raise ForgeConflict(f"Branch {branch} is at {current[:12]} on GitHub, not at {parent_sha[:12]}.", MOVED)
        gone = await self._absent(sorted(p for p, text in changes.items() if text is None), parent_sha)
        kept = {path: text for path, text in sorted(changes.items()) if path not in gone}
        if not kept:  # only deletions of files already absent: the branch holds what was asked
            return parent_sha
        base_tree = (await self._get(f"git/commits/{parent_sha}")).json()["tree"]["sha"]
        entries = [await self._tree_entry(path, text) for path, text in kept.items()]
        tree = (await self._post("git/trees", {"base_tree": base_tree, "tree": entries})).json()["sha"]
        body = {"message": message, "tree": tree, "parents": [parent_sha]}
        commit = (await self._post("git/commits", body)).json()["sha"]
        # force=false: GitHub refuses (422, a ForgeConflict) anything but a fast-forward, so a writer
        # racing us past the check above still can't be overwritten. Moving to an exact sha: repeatable.
        await self.api.request(
            "PATCH", f"{self._base}/git/refs/heads/{_q(branch)}", json={"sha": commit, "force": False}, idempotent=True
        )
        return commit

    async def _absent(self, paths: list[str], ref: str) -> set[str]:
        """Which of `paths` have no file at `ref`: GitHub refuses to delete those from a tree (422)."""
        absent, listed = set(), {}
        for path in paths:
            folder, _, name = path.rpartition("/")
            if folder not in listed:
                listed[folder] = set(await self.list_dir(folder, ref) or ())
            if name not in listed[folder]:
                absent.add(path)
        return absent

    async def _tree_entry(self, path: str, text: str | None) -> dict:
        entry = {"path": path, "mode": "100644", "type": "blob", "sha": None}  # sha None: delete it
        if text is not None:
            blob = await self._post("git/blobs", {"content": text, "encoding": "utf-8"})
            entry["sha"] = blob.json()["sha"]
        return entry

    async def create_release(self, tag: str, title: str, notes: str) -> str | None:
        # GitHub would create a missing tag itself, on the default branch's head: refuse instead.
        if (await self._get(f"git/ref/tags/{_q(tag)}", ok=(404,))).status_code == 404:
            raise ForgeNotFound(f"{self.repository} on GitHub has no tag {tag!r} to publish.", "Create the tag first.")
        response = await self._post("releases", {"tag_name": tag, "name": title, "body": notes}, ok=(422,))
        if response.status_code == 422:
            errors = response.json().get("errors") or []
            if not any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors):
                raise self.api.error(response)
            response = await self._get(f"releases/tags/{_q(tag)}")
        return response.json()["html_url"]

    # -- issues ----------------------------------------------------------------------------------
    async def create_issue(self, title: str, body: str) -> Issue | None:
        # Not repeatable: if the answer is lost, a second POST would open a second issue.
        response = await self.api.request(
            "POST", f"{self._base}/issues", json={"title": title, "body": body}, idempotent=False
        )
        return _issue(response.json())

    async def get_issue(self, number: int) -> Issue | None:
        response = await self._get(f"issues/{number}", ok=(404, 410))  # 410: the issue was deleted
        if response.status_code == 404:
            await self.api.request("GET", self._base)  # a missing repository is not a missing issue
            return None
        data = response.json()
        # GitHub numbers pull requests and issues together, and shows a pull request here too.
        return None if response.status_code == 410 or "pull_request" in data else _issue(data)

    async def update_issue(self, number: int, title: str, body: str) -> Issue:
        response = await self.api.request(
            "PATCH", f"{self._base}/issues/{number}", json={"title": title, "body": body}, idempotent=True
        )
        return _issue(response.json())


def _issue(data: dict) -> Issue:
    return Issue(number=data["number"], url=data["html_url"], title=data["title"], body=data["body"] or "")


def _q(part: str) -> str:
    return quote(part, safe="/")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        return ""


def _decode(content: str) -> str:
    return base64.b64decode(content).decode("utf-8")  # b64decode skips the newlines GitHub wraps with
