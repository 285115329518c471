"""The git repository behind the fake GitLab, in memory: commits (each with its whole file tree) and
their parents, branches, annotated tags, releases and issues; and the JSON GitLab's API v4 shows for them."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PROJECT_ID = 4242
AUTHOR = {"name": "Tower Bot", "email": "tower@example.org"}
_EPOCH = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _sha(*parts: object) -> str:
    return hashlib.sha1("\0".join(map(str, parts)).encode()).hexdigest()


@dataclass
class GitCommit:
    sha: str
    message: str
    parents: list[str]
    files: dict[str, str]  # the whole tree: path -> text
    seq: int  # creation order: newest first is git log's order for these histories

    @property
    def at(self) -> str:
        return (_EPOCH + timedelta(minutes=self.seq)).isoformat()


@dataclass
class GitTag:
    name: str
    sha: str  # the commit
    message: str | None  # None: lightweight
    seq: int
    object_sha: str = ""


@dataclass
class Repo:
    path: str  # "group/project"
    web_base: str  # "http://127.0.0.1:port"
    commits: dict[str, GitCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, GitTag] = field(default_factory=dict)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # iid -> the issue's JSON
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def web_url(self) -> str:
        return f"{self.web_base}/{self.path}"

    # -- the model ---------------------------------------------------------------------------------

    def commit(self, parent: str | None, message: str, changes: dict[str, str | None]) -> GitCommit:
        files = dict(self.commits[parent].files) if parent else {}
        for path, text in changes.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        seq = next(self._seq)
        sha = _sha(seq, parent, message, sorted(files.items()))
        self.commits[sha] = GitCommit(sha, message, [parent] if parent else [], files, seq)
        return self.commits[sha]

    def push(self, branch: str, message: str, changes: dict[str, str | None]) -> str:
        """A commit on top of `branch` (created if new), as a `git push` from elsewhere would."""
        new = self.commit(self.branches.get(branch), message, changes)
        self.branches[branch] = new.sha
        return new.sha

    def tag(self, name: str, sha: str, message: str | None) -> GitTag:
        seq = next(self._seq)
        self.tags[name] = GitTag(name, sha, message, seq, _sha("tag", seq, name, sha) if message is not None else sha)
        return self.tags[name]

    def open_issue(self, title: str, description: str | None) -> dict[str, Any]:
        """A new issue, numbered from 1 in the project (its iid); its id is GitLab-wide, so different."""
        iid, at = len(self.issues) + 1, self._at()
        page = f"{self.web_url}/-/issues/{iid}"
        self.issues[iid] = {
            "id": 70000 + iid,
            "iid": iid,
            "project_id": PROJECT_ID,
            "title": title,
            "description": description or None,
            "state": "opened",
            "created_at": at,
            "updated_at": at,
            "closed_at": None,
            "closed_by": None,
            "labels": [],
            "milestone": None,
            "assignees": [],
            "assignee": None,
            "type": "ISSUE",
            "issue_type": "issue",
            "author": {"id": 1, "username": "tower-bot", "name": AUTHOR["name"]},
            "user_notes_count": 0,
            "confidential": False,
            "discussion_locked": None,
            "web_url": page,
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{self.path}#{iid}"},
            "_links": {"self": f"{self.web_base}/api/v4/projects/{PROJECT_ID}/issues/{iid}"},
        }
        return self.issues[iid]

    def edit_issue(self, iid: int, changes: dict[str, Any]) -> dict[str, Any]:
        issue = self.issues[iid]
        issue.update({k: (v or None) if k == "description" else v for k, v in changes.items()}, updated_at=self._at())
        return issue

    def _at(self) -> str:
        return (_EPOCH + timedelta(minutes=next(self._seq))).isoformat()

    def resolve(self, ref: str) -> GitCommit | None:
        """What git's rev-parse finds: a full sha, a branch, a tag, or a unique abbreviated sha."""
        if ref in self.commits:
            return self.commits[ref]
        if ref in self.branches:
            return self.commits[self.branches[ref]]
        if ref in self.tags:
            return self.commits[self.tags[ref].sha]
        if re.fullmatch(r"[0-9a-f]{4,39}", ref):
            found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
            return found[0] if len(found) == 1 else None
        return None

    def log(self, sha: str) -> list[GitCommit]:
        """Every commit reachable from `sha`, newest first."""
        seen: dict[str, GitCommit] = {}
        todo = [sha]
        while todo:
            current = todo.pop()
            if current not in seen:
                seen[current] = self.commits[current]
                todo += seen[current].parents
        return sorted(seen.values(), key=lambda c: -c.seq)

    def last_commit_for(self, path: str, sha: str) -> str | None:
        """The newest commit that changed `path`, following first parents (GitLab's last_commit_id)."""
        commit = self.commits[sha]
        if path not in commit.files:
            return None
        while commit.parents and self.commits[commit.parents[0]].files.get(path) == commit.files[path]:
            commit = self.commits[commit.parents[0]]
        return commit.sha

    def tree(self, path: str, sha: str) -> list[dict[str, Any]] | None:
        """The entries directly in a directory, trees first like GitLab; None if there is none."""
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries: dict[str, str] = {}
        for file in self.commits[sha].files:
            if file.startswith(prefix):
                name, _, deeper = file[len(prefix) :].partition("/")
                entries[name] = "tree" if deeper else "blob"
        if prefix and not entries:
            return None
        ordered = sorted(entries.items(), key=lambda e: (e[1] != "tree", e[0]))
        return [
            {
                "id": _sha(sha, prefix + name),
                "name": name,
                "type": kind,
                "path": prefix + name,
                "mode": "040000" if kind == "tree" else "100644",
            }
            for name, kind in ordered
        ]

    # -- JSON as GitLab shows it -------------------------------------------------------------------

    def commit_json(self, c: GitCommit, *, detail: bool = False) -> dict[str, Any]:
        body = {
            "id": c.sha,
            "short_id": c.sha[:8],
            "created_at": c.at,
            "parent_ids": list(c.parents),
            "title": c.message.split("\n", 1)[0],
            "message": c.message,
            "author_name": AUTHOR["name"],
            "author_email": AUTHOR["email"],
            "authored_date": c.at,
            "committer_name": AUTHOR["name"],
            "committer_email": AUTHOR["email"],
            "committed_date": c.at,
            "trailers": {},
            "extended_trailers": {},
            "web_url": f"{self.web_url}/-/commit/{c.sha}",
        }
        if detail:
            body |= {
                "stats": {"additions": 0, "deletions": 0, "total": 0},
                "status": None,
                "project_id": PROJECT_ID,
                "last_pipeline": None,
            }
        return body

    def branch_json(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "commit": self.commit_json(self.commits[self.branches[name]]),
            "merged": False,
            "protected": name == "main",
            "developers_can_push": False,
            "developers_can_merge": False,
            "can_push": True,
            "default": name == "main",
            "web_url": f"{self.web_url}/-/tree/{name}",
        }

    def tag_json(self, name: str) -> dict[str, Any]:
        tag = self.tags[name]
        release = self.releases.get(name)
        return {
            "name": name,
            "message": tag.message or "",
            "target": tag.object_sha,
            "commit": self.commit_json(self.commits[tag.sha]),
            "protected": False,
            "created_at": (_EPOCH + timedelta(minutes=tag.seq)).isoformat() if tag.message is not None else None,
            "release": release and {"tag_name": name, "description": release["description"]},
        }

    def release_json(self, tag: str, name: str, description: str) -> dict[str, Any]:
        page = f"{self.web_url}/-/releases/{tag}"
        at = (_EPOCH + timedelta(minutes=next(self._seq))).isoformat()
        return {
            "name": name,
            "tag_name": tag,
            "description": description,
            "created_at": at,
            "released_at": at,
            "upcoming_release": False,
            "author": {"id": 1, "username": "tower-bot", "name": AUTHOR["name"]},
            "commit": self.commit_json(self.commits[self.tags[tag].sha]),
            "commit_path": f"/{self.path}/-/commit/{self.tags[tag].sha}",
            "tag_path": f"/{self.path}/-/tags/{tag}",
            "assets": {"count": 0, "sources": [], "links": []},
            "evidences": [],
            "_links": {
                "self": page,
                "edit_url": f"{page}/edit",
                "closed_issues_url": f"{self.web_url}/-/issues",
                "opened_issues_url": f"{self.web_url}/-/issues",
            },
        }
