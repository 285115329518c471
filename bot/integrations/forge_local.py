"""The local forge: a git repository on disk, driven with the git CLI in a subprocess.

Commits are made with plumbing (a private index, commit-tree, and update-ref with the expected old
value), so Tower never touches a working tree and a branch that moved is a conflict, not an
overwrite. With `push_remote`, branches and tags are pushed after they are written.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from commands.engine.ports import Commit, ForgeConflict, ForgeError, ForgeNotFound, ForgeUnavailable, Issue, Tag
from commands.rules.ci_status import FAILED, PASSED, Verdict, combine

IDENTITY = {
    "GIT_AUTHOR_NAME": "Tower",
    "GIT_AUTHOR_EMAIL": "tower@localhost",
    "GIT_COMMITTER_NAME": "Tower",
    "GIT_COMMITTER_EMAIL": "tower@localhost",
}
BASICS = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM")
TESTS_TIMEOUT = 30 * 60  # seconds a `tests_command` may run
_CONFIG = ["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=/dev/null"]


class GitFailed(Exception):
    def __init__(self, args: tuple[str, ...], stderr: str):
        super().__init__(f"git {' '.join(args[:2])}: {stderr.strip()[:300]}")
        self.stderr = stderr


class LocalGitForge:
    def __init__(self, path: Path, push_remote: str | None = None, tests_command: str | None = None):
        self.path = Path(path)
        self.push_remote = push_remote
        self.tests_command = tests_command  # what says whether a commit's tests pass (there is no CI to ask)

    async def _git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        if not self.path.exists():
            raise ForgeNotFound(f"The repository {self.path} does not exist.", "Check `repository` in tower.toml.")
        try:
            proc = await asyncio.create_subprocess_exec(
                "git",
                *_CONFIG,
                *args,
                cwd=self.path,
                env={**os.environ, **IDENTITY, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
                stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise ForgeUnavailable("git is not installed.", "Install git on the machine that runs Tower.") from None
        out, err = await proc.communicate(stdin.encode() if stdin is not None else None)
        if proc.returncode != 0:
            raise GitFailed(args, err.decode(errors="replace"))
        return out.decode(errors="replace")

    async def problem(self, branch: str) -> str | None:
        """Why Tower could not release from this repository (None if it can): it must exist, be a
        git repository and hold `branch`, the project's main branch."""
        if not self.path.is_dir():
            return f"{self.path} does not exist" if not self.path.exists() else f"{self.path} is not a directory"
        try:
            await self._git("rev-parse", "--git-dir")
        except GitFailed:
            return f"{self.path} is not a git repository"
        except ForgeError as err:
            return str(err)
        if await self.resolve(f"refs/heads/{branch}") is None:
            return f"{self.path} has no branch {branch!r} (main_branch)"
        return None

    async def resolve(self, ref: str) -> str | None:
        try:
            return (
                await self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
            ).strip()
        except GitFailed:
            return None

    async def _commit_of(self, ref: str) -> str:
        sha = await self.resolve(ref)
        if sha is None:
            raise ForgeNotFound(f"`{ref}` is not a branch, tag or commit of {self.path.name}.")
        return sha

    async def read_file(self, path: str, ref: str) -> str | None:
        sha = await self._commit_of(ref)
        try:
            return await self._git("cat-file", "blob", f"{sha}:{path}")
        except GitFailed:
            return None

    async def list_dir(self, path: str, ref: str) -> list[str] | None:
        sha = await self._commit_of(ref)
        try:
            out = await self._git("ls-tree", f"{sha}:{path.strip('/')}")
        except GitFailed:
            return None
        names = [line.split("\t", 1)[1] for line in out.splitlines() if line.split()[1] == "blob"]
        return sorted(names)

    async def head(self, branch: str) -> Commit | None:
        sha = await self.resolve(f"refs/heads/{branch}")
        if sha is None:
            return None
        message = await self._git("log", "-1", "--format=%B", sha)
        return Commit(sha, message.rstrip("\n"))

    async def create_branch(self, branch: str, from_sha: str) -> None:
        try:
            # An empty old value: only if the branch does not exist yet.
            await self._git("update-ref", f"refs/heads/{branch}", from_sha, "")
        except GitFailed:
            existing = await self.resolve(f"refs/heads/{branch}")
            if existing != from_sha:
                raise ForgeConflict(
                    f"Branch {branch} exists at {str(existing)[:10]}, not at {from_sha[:10]}.",
                    "Move or delete it by hand, or release from where it is.",
                ) from None
        await self._push(f"{from_sha}:refs/heads/{branch}")

    async def commit_files(self, branch: str, message: str, changes: dict[str, str | None], parent_sha: str) -> str:
        with tempfile.TemporaryDirectory(prefix="tower-index-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            await self._git("read-tree", parent_sha, env=index)
            entries = []
            for path, text in changes.items():
                if text is None:
                    entries.append(f"0 {'0' * 40}\t{path}")  # mode 0 removes; works without a work tree
                else:
                    blob = (await self._git("hash-object", "-w", "--stdin", stdin=text)).strip()
                    entries.append(f"100644 {blob}\t{path}")
            await self._git("update-index", "--index-info", stdin="\n".join(entries) + "\n", env=index)
            tree = (await self._git("write-tree", env=index)).strip()
        commit = (await self._git("commit-tree", tree, "-p", parent_sha, stdin=message)).strip()
        try:
            await self._git("update-ref", f"refs/heads/{branch}", commit, parent_sha)
        except GitFailed:
            now = await self.resolve(f"refs/heads/{branch}")
            raise ForgeConflict(
                f"Branch {branch} moved to {str(now)[:10]} while Tower was committing.",
                "Run the command again to start from the new head.",
            ) from None
        await self._push(f"{commit}:refs/heads/{branch}")
        return commit

    async def tags(self, prefix: str = "") -> list[Tag]:
        out = await self._git(
            "for-each-ref",
            "--format=%(refname:strip=2)%00%(*objectname)%00%(objectname)%00%(contents)%1e",
            f"refs/tags/{prefix}*" if prefix else "refs/tags/",
        )
        tags = []
        for record in out.split("\x1e"):
            fields = record.strip("\n").split("\x00")
            if len(fields) == 4 and fields[0].startswith(prefix):
                name, peeled, target, contents = fields
                tags.append(Tag(name, peeled or target, contents.rstrip("\n") if peeled else None))
        return tags

    async def create_tag(self, name: str, commit_sha: str, message: str) -> None:
        try:
            # verbatim: the default cleanup would drop Markdown headings ("### Added") as comments
            await self._git(
                "tag", "--annotate", "--cleanup=verbatim", "--file=-", "--", name, commit_sha, stdin=message
            )
        except GitFailed:
            existing = await self.resolve(f"refs/tags/{name}")
            if existing != commit_sha:
                raise ForgeConflict(
                    f"Tag {name} exists at {str(existing)[:10]}, not at {commit_sha[:10]}.",
                    "Tags are not moved; cut the next candidate instead.",
                ) from None
        await self._push(f"refs/tags/{name}:refs/tags/{name}")

    async def commit_messages(self, since_tag: str | None, ref: str) -> list[str]:
        span = f"{since_tag}..{ref}" if since_tag else ref
        out = await self._git("log", "--format=%B%x1e", span)
        return [m.strip("\n") for m in out.split("\x1e") if m.strip()]

    async def create_release(self, tag: str, title: str, notes: str) -> str | None:
        return None  # a plain repository has no release pages; the annotated tag carries the notes

    async def move_branch(self, branch: str, sha: str) -> None:
        await self._git("update-ref", f"refs/heads/{branch}", sha)
        if self.push_remote:
            await self._git("push", "--quiet", "--force", self.push_remote, f"{sha}:refs/heads/{branch}")

    async def create_issue(self, title: str, body: str) -> Issue | None:
        return None  # a plain repository has no issues; the checklist lives in Tower alone

    async def get_issue(self, number: int) -> Issue | None:
        return None

    async def update_issue(self, number: int, title: str, body: str) -> Issue:
        raise ForgeNotFound("A local repository has no issues.")

    async def commit_checks(self, sha: str) -> Verdict:
        """The project's `tests_command` run in a fresh copy of the commit's files (its exit code is the
        verdict); without one, nothing has reported on the commit."""
        if not self.tests_command:
            return combine([])
        commit = await self._commit_of(sha)
        with tempfile.TemporaryDirectory(prefix="tower-tests-") as tmp:
            files = Path(tmp) / "src"
            files.mkdir()
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(files)}
            try:
                await self._git("read-tree", commit, env=index)
                await self._git("checkout-index", "--all", env=index)
            except GitFailed as err:
                raise ForgeError(f"The files of {commit[:10]} could not be copied for its tests ({err}).") from None
            env = {name: os.environ[name] for name in BASICS if name in os.environ} | {"TOWER_COMMIT": commit}
            proc = await asyncio.create_subprocess_shell(
                self.tests_command, cwd=files, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
            )
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), TESTS_TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return Verdict(FAILED, f"`tests_command` did not finish within {TESTS_TIMEOUT // 60} minutes")
        if proc.returncode == 0:
            return Verdict(PASSED, "`tests_command` passed")
        last = next((line for line in reversed(out.decode(errors="replace").splitlines()) if line.strip()), "")
        return Verdict(FAILED, f"`tests_command` failed (exit {proc.returncode}): {last.strip()[:300]}")

    async def _push(self, refspec: str) -> None:
        if not self.push_remote:
            return
        try:
            await self._git("push", "--quiet", self.push_remote, refspec)
        except GitFailed as err:
            raise ForgeError(
                f"Pushing to {self.push_remote} failed: {err.stderr.strip()[:200]}",
                "Check the remote and its credentials; the local repository is already updated.",
            ) from None

    async def close(self) -> None:
        return None
