"""The in-memory git repository behind the fake GitHub: content-addressed blobs, trees, commits and
annotated tag objects, plus refs. Shas are sha1 of each object's canonical content, so they are
stable from run to run (commit dates come from a counter, not the wall clock). And the repository's
issues and releases, with the handlers of their endpoints."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

DOCS = "https://docs.github.com/rest"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
IDENTITY = {"name": "Tower Bot", "email": "tower@example.org"}
Obj = dict[str, Any]


class GitStore:
    def __init__(self) -> None:
        self.objects: dict[str, Obj] = {}  # sha -> {"type": blob|tree|commit|tag, ...}
        self.refs: dict[str, str] = {}  # "refs/heads/main" -> sha
        self._ticks = 0

    def _put(self, kind: str, body: Obj) -> str:
        raw = f"{kind} ".encode() + (body["data"] if kind == "blob" else json.dumps(body, sort_keys=True).encode())
        sha = hashlib.sha1(raw).hexdigest()
        self.objects[sha] = {"type": kind, **body}
        return sha

    def now(self) -> str:
        self._ticks += 1
        return (EPOCH + timedelta(minutes=self._ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def kind(self, sha: str | None) -> str | None:
        obj = self.objects.get(sha or "")
        return obj["type"] if obj else None

    # -- writing -------------------------------------------------------------------------------
    def blob(self, data: bytes) -> str:
        return self._put("blob", {"data": data})

    def write_tree(self, files: dict[str, tuple[str, str]]) -> str:
        """A tree (and its subtrees) from {path: (mode, blob sha)}; directories left empty vanish."""
        entries, dirs = [], {}
        for path, (mode, sha) in files.items():
            head, _, rest = path.partition("/")
            if rest:
                dirs.setdefault(head, {})[rest] = (mode, sha)
            else:
                entries.append([head, mode, "blob", sha])
        entries += [[name, "040000", "tree", self.write_tree(sub)] for name, sub in dirs.items()]
        return self._put("tree", {"entries": sorted(entries)})

    def commit(self, tree: str, parents: list[str], message: str, who: Obj | None = None) -> str:
        who = who or {**IDENTITY, "date": self.now()}
        return self._put(
            "commit",
            {"tree": tree, "parents": parents, "message": message, "author": who, "committer": who, "seq": self._ticks},
        )

    def tag(self, name: str, target: str, message: str, tagger: Obj | None = None) -> str:
        tagger = tagger or {**IDENTITY, "date": self.now()}
        return self._put(
            "tag",
            {"tag": name, "message": message, "tagger": tagger, "object": {"sha": target, "type": self.kind(target)}},
        )

    # -- reading -------------------------------------------------------------------------------
    def files(self, tree: str, prefix: str = "") -> dict[str, tuple[str, str]]:
        """The tree flattened to {path: (mode, blob sha)}."""
        out: dict[str, tuple[str, str]] = {}
        for name, mode, kind, sha in self.objects[tree]["entries"]:
            if kind == "tree":
                out.update(self.files(sha, f"{prefix}{name}/"))
            else:
                out[f"{prefix}{name}"] = (mode, sha)
        return out

    def lookup(self, tree: str, path: str) -> tuple[str, str, str] | None:
        """(mode, type, sha) of the entry at `path` ("" is the tree itself); None if absent."""
        entry: tuple[str, str, str] = ("040000", "tree", tree)
        for part in filter(None, path.split("/")):
            if entry[1] != "tree":
                return None
            found = [e for e in self.objects[entry[2]]["entries"] if e[0] == part]
            if not found:
                return None
            entry = tuple(found[0][1:])  # type: ignore[assignment]
        return entry

    def peel(self, sha: str | None) -> str | None:
        while sha and self.kind(sha) == "tag":
            sha = self.objects[sha]["object"]["sha"]
        return sha if self.kind(sha) == "commit" else None

    def rev(self, name: str) -> str | None:
        """The commit a branch, tag, refs/… name, heads/… / tags/… name or (abbreviated) sha names."""
        for candidate in (f"refs/heads/{name}", f"refs/tags/{name}", name, f"refs/{name}"):
            if candidate in self.refs:
                return self.peel(self.refs[candidate])
        if len(name) >= 4 and all(c in "0123456789abcdef" for c in name):
            matches = [s for s, o in self.objects.items() if s.startswith(name) and o["type"] == "commit"]
            return matches[0] if len(matches) == 1 else None
        return None

    def ancestors(self, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen.add(current)
                todo += self.objects[current]["parents"]
        return seen

    def log(self, head: str, hide: str | None = None) -> list[str]:
        """Commits reachable from `head` but not from `hide`, newest first."""
        shown = self.ancestors(head) - (self.ancestors(hide) if hide else set())
        return sorted(shown, key=lambda s: self.objects[s]["seq"], reverse=True)

    def seed(self, commits: list[Obj], branch: str = "main") -> list[str]:
        """Build `branch` from SEED-shaped commits ({message, files, tag?}); returns their shas."""
        files: dict[str, tuple[str, str]] = {}
        shas: list[str] = []
        for spec in commits:
            for path, text in spec["files"].items():
                if text is None:
                    files.pop(path, None)
                else:
                    files[path] = ("100644", self.blob(text.encode()))
            shas.append(self.commit(self.write_tree(files), shas[-1:], spec["message"]))
            if spec.get("tag"):
                name, message = spec["tag"]
                self.refs[f"refs/tags/{name}"] = self.tag(name, shas[-1], message)
        self.refs[f"refs/heads/{branch}"] = shas[-1]
        return shas


class IssueTracker:
    """The issues of the one repository, numbered from 1; each handler answers (status, body) as GitHub
    does. GitHub shows an empty body as null."""

    def __init__(self, git: GitStore, api: Callable[[str], str], html: Callable[[str], str]) -> None:
        self.git, self._api, self._html = git, api, html
        self.items: dict[int, Obj] = {}  # number -> the issue's JSON

    def create(self, body: Any) -> tuple[int, Obj]:
        body = body if isinstance(body, dict) else {}
        if invalid := self._invalid(body, required=True):
            return invalid
        number, at = len(self.items) + 1, self.git.now()
        self.items[number] = {
            "id": 9000 + number,
            "node_id": f"I_{number}",
            "number": number,
            "url": self._api(f"issues/{number}"),
            "html_url": self._html(f"issues/{number}"),
            "title": body["title"],
            "body": body.get("body") or None,
            "state": "open",
            "state_reason": None,
            "locked": False,
            "user": {"login": "tower-bot"},
            "labels": [],
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": at,
            "updated_at": at,
            "closed_at": None,
            "author_association": "OWNER",
        }
        return 201, self.items[number]

    def get(self, number: str) -> tuple[int, Obj]:
        issue = self.items.get(int(number))
        return (200, issue) if issue else (404, {"message": "Not Found", "documentation_url": DOCS})

    def update(self, number: str, body: Any) -> tuple[int, Obj]:
        issue, body = self.items.get(int(number)), body if isinstance(body, dict) else {}
        if issue is None:
            return 404, {"message": "Not Found", "documentation_url": DOCS}
        if invalid := self._invalid(body, required=False):
            return invalid
        issue.update({k: body[k] or None for k in ("title", "body") if k in body}, updated_at=self.git.now())
        return 200, issue

    @staticmethod
    def _invalid(body: Obj, required: bool) -> tuple[int, Obj] | None:
        title, text = body.get("title"), body.get("body")
        if (required or "title" in body) and not (isinstance(title, str) and title.strip()):
            field, code = "title", "missing_field" if title is None else "invalid"
        elif text is not None and not isinstance(text, str):
            field, code = "body", "invalid"
        else:
            return None
        return 422, {
            "message": "Validation Failed",
            "documentation_url": DOCS,
            "errors": [{"resource": "Issue", "code": code, "field": field}],
        }


class Releases:
    """The repository's releases by tag, with the handlers of repos/create-release and
    repos/get-release-by-tag."""

    def __init__(self, git: GitStore, api: Callable[[str], str], html: Callable[[str], str]) -> None:
        self.git, self._api, self._html = git, api, html
        self.items: dict[str, Obj] = {}  # tag -> the release's JSON

    def create(self, body: Any) -> tuple[int, Obj]:
        body = body if isinstance(body, dict) else {}
        tag = body.get("tag_name")
        if tag in self.items:
            return 422, {
                "message": "Validation Failed",
                "documentation_url": DOCS,
                "errors": [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            }
        if f"refs/tags/{tag}" not in self.git.refs:  # GitHub then tags the target (default branch) itself
            if (target := self.git.rev(body.get("target_commitish", "main"))) is None:
                return 422, {
                    "message": "Validation Failed",
                    "documentation_url": DOCS,
                    "errors": [{"resource": "Release", "code": "invalid", "field": "target_commitish"}],
                }
            self.git.refs[f"refs/tags/{tag}"] = target
        number = len(self.items) + 1
        self.items[tag] = {
            "id": number,
            "url": self._api(f"releases/{number}"),
            "html_url": self._html(f"releases/tag/{tag}"),
            "tag_name": tag,
            "target_commitish": body.get("target_commitish", "main"),
            "name": body.get("name"),
            "body": body.get("body"),
            "draft": bool(body.get("draft")),
            "prerelease": bool(body.get("prerelease")),
            "created_at": self.git.now(),
            "published_at": self.git.now(),
            "author": {"login": "tower-bot"},
            "assets": [],
        }
        return 201, self.items[tag]

    def get(self, tag: str) -> tuple[int, Obj]:
        return (
            (200, self.items[tag]) if tag in self.items else (404, {"message": "Not Found", "documentation_url": DOCS})
        )
