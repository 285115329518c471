"""A commit's CI verdict from what the CI reported on it, check by check. Pure.

Each check is (name, outcome) with outcome passed, failed or pending; the verdict is failed if any
failed, else pending if any is still running, else passed; with no checks at all, "none".
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.rules.wording import plural

PASSED, FAILED, PENDING, NONE = "passed", "failed", "pending", "none"


@dataclass(frozen=True)
class Verdict:
    state: str  # passed, failed, pending, none
    detail: str  # for people: "3 checks passed", "failed: build, lint", "still running: e2e"


def combine(checks: list[tuple[str, str]]) -> Verdict:
    if not checks:
        return Verdict(NONE, "no CI has reported on it")
    failed = [name for name, outcome in checks if outcome == FAILED]
    pending = [name for name, outcome in checks if outcome == PENDING]
    if failed:
        return Verdict(FAILED, f"failed: {', '.join(sorted(set(failed)))}")
    if pending:
        return Verdict(PENDING, f"still running: {', '.join(sorted(set(pending)))}")
    return Verdict(PASSED, f"{plural(len(checks), 'check')} passed")


# GitHub: a commit status's `state`, and a check run's `status`/`conclusion`.
_GITHUB_STATUS = {"success": PASSED, "failure": FAILED, "error": FAILED, "pending": PENDING}
_GITHUB_CONCLUSION_OK = {"success", "neutral", "skipped"}


def github_status(state: str) -> str:
    return _GITHUB_STATUS.get(state, PENDING)


def github_check_run(status: str, conclusion: str | None) -> str:
    if status != "completed":
        return PENDING  # queued, in_progress, waiting, requested, pending
    return PASSED if conclusion in _GITHUB_CONCLUSION_OK else FAILED  # failure, cancelled, timed_out, …


# GitLab: a commit status's (or pipeline's) `status`; a job allowed to fail never fails the commit.
_GITLAB_PASSED = {"success", "skipped"}
_GITLAB_FAILED = {"failed", "canceled"}


def gitlab_status(status: str, allow_failure: bool = False) -> str:
    if status in _GITLAB_PASSED or (status in _GITLAB_FAILED and allow_failure):
        return PASSED
    return FAILED if status in _GITLAB_FAILED else PENDING  # created, pending, running, manual, scheduled, …
