"""The Forge port on GitLab (gitlab.com or self-hosted), through the REST API v4.

Every call goes through ApiClient: retries, error mapping and messages that never show the token.
GitLab answers "already exists" with a 400 or 409, so the writes ask for those answers (`ok=`) and
turn "exists exactly as asked" into success and "exists elsewhere" into a ForgeConflict.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Literal, overload
from urllib.parse import quote

import httpx

from bot.integrations.http import ApiClient
from bot.integrations.rate_limits import Waiting
from commands.engine.ports import Commit, ForgeConflict, ForgeError, ForgeNotFound, Issue, Tag
from commands.rules.ci_status import Verdict, combine, gitlab_status

PER_PAGE = 100  # GitLab's maximum
_PROJECT_MISSING = "404 Project Not Found"
_BAD_REF = re.compile(r"invalid reference|target .* is invalid|cannot find", re.IGNORECASE)
_MOVED_HINT = "Someone else changed the branch; look at it, then run the command again."


def _enc(value: str) -> str:
    # GitLab takes a project path, a file path or a ref with slashes as one url-encoded segment.
    return quote(value, safe="")


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def _issue(data: dict) -> Issue:
    return Issue(number=data["iid"], url=data["web_url"], title=data["title"], body=data["description"] or "")


class GitLabForge:
    def __init__(
        self,
        repository: str,
        token: str | None,
        api_url: str = "https://gitlab.com/api/v4",
        *,
        token_env: str = "GITLAB_TOKEN",
        transport: httpx.AsyncBaseTransport | None = None,
        waiting: Waiting | None = None,
    ):
        self.repository = repository
        self.project = f"projects/{_enc(repository)}"
        hint = (
            f"Check that {token_env} holds a GitLab access token with the api scope that can reach {repository}."
            if token
            else f"{token_env} is not set: set it to a GitLab access token with the api scope."
        )
        headers = {"PRIVATE-TOKEN": token} if token else {}
        self.api = ApiClient(api_url, headers, service="GitLab", token_hint=hint, transport=transport, waiting=waiting)

    # -- reading ----------------------------------------------------------------------------------

    async def read_file(self, path: str, ref: str) -> str | None:
        response = await self._get(f"repository/files/{_enc(path)}/raw", {"ref": ref}, missing_ok=True)
        if response is None:
            await self._require_ref(ref)  # GitLab says 404 for a missing file and a missing ref alike
            return None
        return response.content.decode("utf-8", errors="replace")

    async def list_dir(self, path: str, ref: str) -> list[str] | None:
        entries = await self._all("repository/tree", {"path": path, "ref": ref}, key="path", missing_ok=True)
        if not entries:  # 404 on current GitLab, an empty list on older ones: git has no empty directories
            await self._require_ref(ref)
            return None
        return sorted(e["name"] for e in entries if e["type"] == "blob")

    async def head(self, branch: str) -> Commit | None:
        commit = await self._branch_commit(branch)
        return None if commit is None else Commit(sha=commit["id"], message=commit["message"].rstrip("\n"))

    async def resolve(self, ref: str) -> str | None:
        if not ref:  # "repository/commits/" would be the commit list
            return None
        response = await self._get(f"repository/commits/{_enc(ref)}", missing_ok=True)
        return None if response is None else response.json()["id"]

    async def tags(self, prefix: str = "") -> list[Tag]:
        # GitLab's search is a substring match, anchored by "^"; the startswith keeps it exact.
        found = await self._all("repository/tags", {"search": f"^{prefix}"} if prefix else {}, key="name")
        return [
            Tag(t["name"], t["commit"]["id"], t.get("message") or None)
            for t in found or []
            if t["name"].startswith(prefix)
        ]

    async def commit_messages(self, since_tag: str | None, ref: str) -> list[str]:
        if since_tag is None:
            commits = await self._all("repository/commits", {"ref_name": ref}, key="id") or []
        else:  # compare lists the commits oldest first
            compared = await self._get("repository/compare", {"from": since_tag, "to": ref})
            commits = compared.json()["commits"][::-1]
        return [c["message"].rstrip("\n") for c in commits]

    async def commit_checks(self, sha: str) -> Verdict:
        """The commit's statuses (the latest of each job of its pipelines, and external statuses),
        a job allowed to fail never failing it."""
        statuses = await self._all(f"repository/commits/{_enc(sha)}/statuses", {}, key="id") or []
        return combine([(s["name"], gitlab_status(s["status"], bool(s.get("allow_failure")))) for s in statuses])

    # -- writing ----------------------------------------------------------------------------------
    # GitLab answers a repeated create with 400/409, which each method recognises; none of these POSTs
    # is idempotent on the wire, so ApiClient reports a timeout and the caller's retry finds the result.

    async def create_branch(self, branch: str, from_sha: str) -> None:
        response = await self.api.request(
            "POST",
            f"{self.project}/repository/branches",
            idempotent=False,
            ok=(400,),
            params={"branch": branch, "ref": from_sha},
        )
        if response.status_code == 400:
            await self._exists_as_asked(response, lambda: self._branch_sha(branch), from_sha, f"branch {branch}")

    async def move_branch(self, branch: str, sha: str) -> None:
        """GitLab cannot move a branch: delete it and create it again at the commit."""
        if await self._branch_sha(branch) == sha:
            return
        await self.api.request("DELETE", f"{self.project}/repository/branches/{_enc(branch)}", ok=(404,))
        await self.create_branch(branch, sha)

    async def create_tag(self, name: str, commit_sha: str, message: str) -> None:
        response = await self.api.request(
            "POST",
            f"{self.project}/repository/tags",
            idempotent=False,
            ok=(400,),
            json={"tag_name": name, "ref": commit_sha, "message": message},
        )
        if response.status_code == 400:
            await self._exists_as_asked(response, lambda: self._tag_sha(name), commit_sha, f"tag {name}")

    async def create_release(self, tag: str, title: str, notes: str) -> str | None:
        response = await self.api.request(
            "POST",
            f"{self.project}/releases",
            idempotent=False,
            ok=(409,),
            json={"tag_name": tag, "name": title, "description": notes},
        )
        if response.status_code == 409:  # "Release already exists": it keeps its page
            response = await self._get(f"releases/{_enc(tag)}")
        return response.json()["_links"]["self"]

    async def commit_files(self, branch: str, message: str, changes: dict[str, str | None], parent_sha: str) -> str:
        # GitLab's commit API has no compare-and-swap on the branch. So: pin every updated or deleted
        # file with last_commit_id (GitLab refuses if it changed) and create only files absent at the
        # parent (GitLab refuses if one appeared); check the head is parent_sha just before posting;
        # then check the new commit's parent. The window left: a push touching only other files
        # between our check and GitLab's write becomes our parent; we report it, but our commit is
        # then on the branch. Not start_sha: GitLab refuses it on an existing branch unless
        # force=true, and force would silently drop a commit pushed in that window.
        actions = [a for path, text in changes.items() if (a := await self._action(path, text, parent_sha))]
        head = await self._branch_commit(branch)
        if head is None or head["id"] != parent_sha:
            if head is not None and await self._is_this_commit(head, message, changes, parent_sha):
                return head["id"]  # a repeat: our commit went through, its answer was lost
            raise ForgeConflict(
                f"Branch {branch} is at {head['id'][:12] if head else 'nothing'}, "
                f"not {parent_sha[:12]}; nothing was committed.",
                _MOVED_HINT,
            )
        if not actions:  # only deletions of files already absent: the branch holds what was asked
            return parent_sha
        response = await self.api.request(
            "POST",
            f"{self.project}/repository/commits",
            idempotent=False,
            ok=(400,),
            json={"branch": branch, "commit_message": message, "actions": actions},
        )
        if response.status_code == 400:  # a pinned file changed, or a created one appeared
            raise ForgeConflict(
                f"GitLab refused the commit on {branch} ({_message(response)[:200]}); nothing was committed.",
                _MOVED_HINT,
            )
        new = response.json()
        if new["parent_ids"] != [parent_sha]:
            raise ForgeConflict(
                f"Branch {branch} moved while committing: the commit {new['id'][:12]} landed on "
                f"{','.join(p[:12] for p in new['parent_ids'])}, not {parent_sha[:12]}.",
                _MOVED_HINT,
            )
        return new["id"]

    # -- issues: numbered by iid, the number people see in the project (id is GitLab-wide) ----------

    async def create_issue(self, title: str, body: str) -> Issue | None:
        # Not repeatable: if the answer is lost, a second POST would open a second issue.
        response = await self.api.request(
            "POST", f"{self.project}/issues", idempotent=False, json={"title": title, "description": body}
        )
        return _issue(response.json())

    async def get_issue(self, number: int) -> Issue | None:
        response = await self._get(f"issues/{number}", missing_ok=True)  # an unknown project still raises
        return None if response is None else _issue(response.json())

    async def update_issue(self, number: int, title: str, body: str) -> Issue:
        response = await self.api.request(
            "PUT", f"{self.project}/issues/{number}", idempotent=True, json={"title": title, "description": body}
        )
        return _issue(response.json())

    async def close(self) -> None:
        await self.api.close()

    # -- helpers ----------------------------------------------------------------------------------

    # Without missing_ok a 404 raises: there is always a response.
    @overload
    async def _get(
        self, path: str, params: dict[str, Any] | None = None, *, missing_ok: Literal[False] = False
    ) -> httpx.Response: ...

    @overload
    async def _get(
        self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool
    ) -> httpx.Response | None: ...

    async def _get(
        self, path: str, params: dict[str, Any] | None = None, *, missing_ok: bool = False
    ) -> httpx.Response | None:
        """The response, or None for a 404 when `missing_ok` (an unknown project still raises)."""
        response = await self.api.request(
            "GET", f"{self.project}/{path}", params=params, ok=(404,) if missing_ok else ()
        )
        if response.status_code != 404:
            return response
        if _message(response) == _PROJECT_MISSING:
            raise self.api.error(response)
        return None

    async def _all(self, path: str, params: dict[str, Any], *, key: str, missing_ok: bool = False) -> list[dict] | None:
        """Every item of a paginated list (told apart by `key`), following `x-next-page` until a page adds
        nothing new; None for a 404 when `missing_ok`. Nothing new: GitLab's Gitaly pager answers a first
        page of tags with every match of a search and still says `x-next-page: 2`, whose offset page then
        repeats them (lib/gitlab/pagination/gitaly_keyset_pager.rb, app/finders/tags_finder.rb)."""
        items: dict[str, dict] = {}
        page = "1"
        while page:
            response = await self._get(path, {**params, "page": page, "per_page": PER_PAGE}, missing_ok=missing_ok)
            if response is None:
                return None
            fresh = {item[key]: item for item in response.json() if item[key] not in items}
            if not fresh:
                break
            items |= fresh
            page = response.headers.get("x-next-page", "")
        return list(items.values())

    async def _require_ref(self, ref: str) -> None:
        if await self.resolve(ref) is None:
            raise ForgeNotFound(
                f"GitLab project {self.repository} has no branch, tag or commit {ref!r}.",
                "Check the name; a branch may have been deleted.",
            )

    async def _branch_commit(self, branch: str) -> dict | None:
        response = await self._get(f"repository/branches/{_enc(branch)}", missing_ok=True)
        return None if response is None else response.json()["commit"]

    async def _branch_sha(self, branch: str) -> str | None:
        commit = await self._branch_commit(branch)
        return commit["id"] if commit else None

    async def _tag_sha(self, name: str) -> str | None:
        response = await self._get(f"repository/tags/{_enc(name)}", missing_ok=True)
        return None if response is None else response.json()["commit"]["id"]

    async def _exists_as_asked(
        self, response: httpx.Response, lookup: Callable[[], Awaitable[str | None]], wanted: str, what: str
    ) -> None:
        """After a 400 on a create: already there at `wanted` is success, anywhere else a conflict."""
        message = _message(response)
        if "already exists" not in message:
            kind = ForgeNotFound if _BAD_REF.search(message) else ForgeError
            raise kind(
                f"GitLab refused to create the {what} at {wanted[:12]} (400: {message[:200]}).",
                "Check that the commit exists in the project.",
            )
        found = await lookup()
        if found != wanted:
            where = found[:12] if found else "nothing"
            raise ForgeConflict(
                f"The {what} already exists at {where}, not {wanted[:12]}.",
                "Look at it on GitLab; Tower will not move it.",
            )

    async def _action(self, path: str, text: str | None, parent_sha: str) -> dict | None:
        """The commit action for one path, pinned to the file's last commit at the parent."""
        last = await self._last_commit(path, parent_sha)
        if text is None:
            return None if last is None else {"action": "delete", "file_path": path, "last_commit_id": last}
        if last is None:
            return {"action": "create", "file_path": path, "content": text}
        return {"action": "update", "file_path": path, "content": text, "last_commit_id": last}

    async def _last_commit(self, path: str, ref: str) -> str | None:
        # HEAD on the file API: its metadata as headers, without the content.
        response = await self.api.request(
            "HEAD", f"{self.project}/repository/files/{_enc(path)}", params={"ref": ref}, ok=(404,)
        )
        return None if response.status_code == 404 else response.headers["X-Gitlab-Last-Commit-Id"]

    async def _is_this_commit(self, head: dict, message: str, changes: dict[str, str | None], parent_sha: str) -> bool:
        if head["parent_ids"] != [parent_sha] or head["message"].rstrip("\n") != message.rstrip("\n"):
            return False
        for path, text in changes.items():
            if await self.read_file(path, head["id"]) != text:
                return False
        return True
