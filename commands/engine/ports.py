"""What commands need from the outside world, as protocols. `bot/` provides the real ones,
tests provide fakes that are real implementations of the same boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from commands.rules.ci_status import Verdict


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


# -- Forge: where the code lives (a local git repository, GitHub, GitLab) -------------------------


class ForgeError(Exception):
    """A forge call failed. `str()` says what happened and what to check; never a token."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message, self.hint = message, hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


class ForgeAuthError(ForgeError):
    """401/403: the token is missing, wrong, or lacks a permission."""


class ForgeNotFound(ForgeError):
    """404: the repository, branch, file or tag does not exist (or the token cannot see it)."""


class ForgeConflict(ForgeError):
    """The forge's state moved: a branch is no longer where we expected, or a tag exists elsewhere."""


class ForgeUnavailable(ForgeError):
    """Network down, a timeout, rate limiting or a 5xx: the call did not complete. A write may or
    may not have happened, so callers check the forge's state before they try it again."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str  # without trailing newlines


@dataclass(frozen=True)
class Tag:
    name: str
    commit_sha: str  # the commit the tag points at (annotated tags peeled)
    message: str | None = None  # the annotation; None for a lightweight tag


@dataclass(frozen=True)
class Issue:
    number: int
    url: str
    title: str
    body: str


class Forge(Protocol):
    """Everything Tower does to a repository. Every write is safe to repeat: creating what already
    exists exactly as asked is success, and anything else is a ForgeConflict."""

    async def read_file(self, path: str, ref: str) -> str | None:
        """The file's text at a branch, tag or commit; None if there is no such file."""
        ...

    async def list_dir(self, path: str, ref: str) -> list[str] | None:
        """Names of the files directly in a directory (sorted); None if there is no such directory."""
        ...

    async def head(self, branch: str) -> Commit | None:
        """The newest commit of a branch; None if the branch does not exist."""
        ...

    async def resolve(self, ref: str) -> str | None:
        """The commit sha a branch, tag or (abbreviated) sha names; None if it names nothing."""
        ...

    async def create_branch(self, branch: str, from_sha: str) -> None:
        """Create a branch at a commit. Exists at that commit: fine; elsewhere: ForgeConflict."""
        ...

    async def commit_files(self, branch: str, message: str, changes: dict[str, str | None], parent_sha: str) -> str:
        """One commit on `branch` whose parent is `parent_sha`, writing each path's new text (None
        deletes it). If the branch no longer points at `parent_sha`: ForgeConflict, nothing written.
        Returns the new commit's sha."""
        ...

    async def tags(self, prefix: str = "") -> list[Tag]:
        """Every tag whose name starts with `prefix` (annotations may be left out: message None)."""
        ...

    async def create_tag(self, name: str, commit_sha: str, message: str) -> None:
        """An annotated tag. Exists at that commit: fine; at another commit: ForgeConflict."""
        ...

    async def commit_messages(self, since_tag: str | None, ref: str) -> list[str]:
        """Messages of the commits reachable from `ref` but not from `since_tag` (all of them when
        None), newest first."""
        ...

    async def create_release(self, tag: str, title: str, notes: str) -> str | None:
        """Publish a release page for a tag (GitHub/GitLab release); returns its URL. A local
        repository has none: None. Already published for that tag: return the existing URL."""
        ...

    async def move_branch(self, branch: str, sha: str) -> None:
        """Point a branch at a commit, creating it or moving it wherever it was (a deploy pointer
        like `devnet`, not a branch people commit to)."""
        ...

    async def create_issue(self, title: str, body: str) -> Issue | None:
        """Open an issue (the release's checklist lives there too). None: this forge has no issues."""
        ...

    async def get_issue(self, number: int) -> Issue | None:
        """The issue as it is now (people tick its boxes); None if it does not exist."""
        ...

    async def update_issue(self, number: int, title: str, body: str) -> Issue: ...

    async def commit_checks(self, sha: str) -> Verdict:
        """What the CI says of the commit (GitHub: commit statuses and check runs; GitLab: commit
        statuses; local: the project's `tests_command` run on it). "none" when nothing reported."""
        ...

    async def close(self) -> None: ...


# -- CI: where deploys, integrations and retirements run ------------------------------------------


class CIError(Exception):
    """The CI refused the run (bad token, unknown workflow): it did not start. `str()` says what to check."""


class CIUnavailable(CIError):
    """The CI could not be reached or did not answer. With `maybe_started`, the request may have
    arrived: look the run up by its operation id before triggering it again."""

    def __init__(self, message: str, maybe_started: bool = False):
        super().__init__(message)
        self.maybe_started = maybe_started


@dataclass(frozen=True)
class RunRequest:
    operation_id: str  # Tower's idempotency key: passed to the CI, used to find the run again
    pipeline: str  # deploy, integrate or retire
    project: str
    version: str
    tag: str
    environment: str | None = None
    callback_url: str | None = None  # where the CI reports back (POST /hooks/ci)


@dataclass(frozen=True)
class Run:
    run_id: str
    url: str | None
    status: str  # queued, running, succeeded, failed, unknown (a CI that cannot be asked)
    detail: str | None = None  # why it failed, where the CI says
    # What the run reported, where a CI keeps its reports with the run (the local CI's run book): a
    # process that did not run it applies them as it would the callbacks, e.g. {"event": "smoke.failed"}.
    events: tuple[dict, ...] = ()


class CI(Protocol):
    async def trigger(self, request: RunRequest) -> Run:
        """Start the pipeline. Raises CIError if it was refused, CIUnavailable if unsure."""
        ...

    async def find(self, request: RunRequest) -> Run | None:
        """The run started for this operation id, if the CI has one (None: not started, or the CI
        cannot be asked — then it must deduplicate by the operation id itself)."""
        ...

    async def status(self, run_id: str) -> Run:
        """Where a run is now (polled, so a lost callback does not stall a release)."""
        ...

    async def close(self) -> None: ...


class CIs(Protocol):
    """The CI of each project (None for a project that does not deploy)."""

    def for_project(self, project) -> CI | None: ...

    async def close(self) -> None: ...


# -- Health probes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    value: float | None  # the metric, when the probe yields one
    ok: bool  # reachable and readable
    detail: str = ""


class Prober(Protocol):
    async def read(self, probe) -> Reading:
        """Read a project's health probe once (ProbeSettings: an HTTP JSON value, or a command)."""
        ...


class Forges(Protocol):
    """The forge of each project (built from its settings and the environment's tokens)."""

    def for_project(self, project) -> Forge: ...

    async def close(self) -> None: ...
