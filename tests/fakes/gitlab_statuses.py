"""What CI reported on commits of the fake GitLab: commit statuses (GET
/projects/:id/repository/commits/:sha/statuses), one per job or external status, in GitLab's shape.
Without `all`, GitLab lists only the latest status of each name, as here."""

from __future__ import annotations

from itertools import count

STAMP = "2026-11-20T09:00:00.000Z"


class CommitStatuses:
    def __init__(self) -> None:
        self.by_sha: dict[str, list[dict]] = {}
        self._ids = count(1)

    def status(self, sha: str, name: str, status: str, *, allow_failure: bool = False, ref: str = "release") -> None:
        entry = {
            "id": next(self._ids),
            "sha": sha,
            "ref": ref,
            "status": status,  # created, pending, running, success, failed, canceled, skipped, manual, …
            "name": name,
            "target_url": f"https://gitlab.example.org/jobs/{name}",
            "description": None,
            "created_at": STAMP,
            "started_at": STAMP,
            "finished_at": STAMP if status in ("success", "failed", "canceled", "skipped") else None,
            "allow_failure": allow_failure,
            "coverage": None,
            "pipeline_id": 1,
            "author": {"id": 1, "username": "ci-bot", "name": "CI", "state": "active"},
        }
        kept = [s for s in self.by_sha.get(sha, []) if s["name"] != name]
        self.by_sha[sha] = [*kept, entry]
