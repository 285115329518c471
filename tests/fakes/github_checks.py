"""What CI reported on commits of the fake GitHub: commit statuses (repos/get-combined-status-for-ref)
and check runs (checks/list-for-ref), in GitHub's JSON shapes. Tests post them with `status` and
`check_run`. As on GitHub, the combined `state` of a commit without statuses is "pending"."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

STAMP = "2026-11-20T09:00:00Z"


class CommitChecks:
    def __init__(self, api: Callable[[str], str], html: Callable[[str], str]) -> None:
        self.api, self.html = api, html
        self.statuses: dict[str, list[dict]] = {}
        self.runs: dict[str, list[dict]] = {}
        self._ids = count(1)

    def status(self, sha: str, context: str, state: str) -> None:
        """A status as the statuses API keeps it; a newer one of the same context replaces it."""
        entry = {
            "id": next(self._ids),
            "node_id": f"SC_{context}",
            "url": self.api(f"statuses/{sha}"),
            "state": state,  # error, failure, pending, success
            "description": f"{context}: {state}",
            "target_url": f"https://ci.example.org/{context}",
            "context": context,
            "avatar_url": None,
            "created_at": STAMP,
            "updated_at": STAMP,
            "creator": {"login": "ci-bot", "id": 9, "type": "Bot"},
        }
        kept = [s for s in self.statuses.get(sha, []) if s["context"] != context]
        self.statuses[sha] = [entry, *kept]

    def check_run(self, sha: str, name: str, status: str, conclusion: str | None = None) -> None:
        run_id = next(self._ids)
        self.runs.setdefault(sha, []).append(
            {
                "id": run_id,
                "head_sha": sha,
                "node_id": f"CR_{run_id}",
                "external_id": "",
                "url": self.api(f"check-runs/{run_id}"),
                "html_url": self.html(f"runs/{run_id}"),
                "details_url": self.html(f"runs/{run_id}"),
                "status": status,  # queued, in_progress, completed, …
                "conclusion": conclusion,  # success, failure, neutral, cancelled, skipped, timed_out, …
                "started_at": STAMP,
                "completed_at": STAMP if status == "completed" else None,
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0},
                "name": name,
                "check_suite": {"id": 1},
                "app": {"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
                "pull_requests": [],
            }
        )

    def listed(self, sha: str, which: str) -> list[dict]:
        """checks/list-for-ref: `filter=latest` (the default) keeps the newest run of each name, `all` every run."""
        runs = self.runs.get(sha, [])
        if which == "all":
            return runs
        newest = {run["name"]: run for run in runs}  # later runs replace earlier ones of the same name
        return sorted(newest.values(), key=lambda run: -run["id"])

    def combined(self, sha: str, page: list[dict], total: int) -> dict:
        states = {s["state"] for s in self.statuses.get(sha, [])}
        state = (
            "failure"
            if states & {"failure", "error"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        return {
            "state": state,
            "statuses": page,
            "sha": sha,
            "total_count": total,
            "repository": {"full_name": self.api("").split("/repos/")[1].rstrip("/")},
            "commit_url": self.api(f"commits/{sha}"),
            "url": self.api(f"commits/{sha}/status"),
        }
