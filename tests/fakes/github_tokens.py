"""What a GitHub token may do on the fake GitHubs: a fine-grained token's repository permissions
(contents, issues, actions: none, read or write), or a classic token's scopes, which GitHub lists in
`X-OAuth-Scopes` on every answer. GitHub checks them before it looks at a request's body: a token
without the permission gets 403 "Resource not accessible by personal access token"."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.github_git import DOCS

LEVELS = {"none": 0, "read": 1, "write": 2}
EVERYTHING = {
    "metadata": "read",
    "contents": "write",
    "issues": "write",
    "actions": "write",
    "statuses": "read",
    "checks": "read",
}


@dataclass
class Grant:
    permissions: dict[str, str] = field(default_factory=lambda: dict(EVERYTHING))
    scopes: tuple[str, ...] | None = None  # a classic token's scopes; None: a fine-grained token

    @classmethod
    def classic(cls, *scopes: str) -> Grant:
        """A classic token: `repo` is every repository permission; `workflow` adds nothing Tower uses."""
        level = "write" if "repo" in scopes else "read"
        areas = ("contents", "issues", "actions", "statuses", "checks")
        return cls({"metadata": "read", **dict.fromkeys(areas, level)}, scopes)

    def refusal(self, area: str, method: str) -> tuple[int, dict] | None:
        need = "read" if method in ("GET", "HEAD") else "write"
        if LEVELS[self.permissions.get(area, "none")] >= LEVELS[need]:
            return None
        return 403, {"message": "Resource not accessible by personal access token", "documentation_url": DOCS}

    def headers(self) -> dict[str, str]:
        return {} if self.scopes is None else {"X-OAuth-Scopes": ", ".join(self.scopes)}

    def repository_permissions(self) -> dict[str, bool]:
        """`permissions` of repos/get, as far as these grants tell."""
        push = self.permissions.get("contents") == "write"
        return {"admin": False, "maintain": False, "push": push, "triage": push, "pull": True}


def area(rel: str) -> str:
    """The permission a path below /repos/{owner}/{repo}/ needs."""
    first = rel.strip("/").split("/", 1)[0]
    if first == "commits" and rel.endswith(("/status", "/check-runs")):  # what CI said of a commit
        return "statuses" if rel.endswith("/status") else "checks"
    if first in ("issues",):
        return "issues"
    if first == "actions":
        return "actions"
    return "metadata" if first == "" else "contents"
