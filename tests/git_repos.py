"""Real git repositories for tests, built from a list of commits."""

from __future__ import annotations

import subprocess
from pathlib import Path

ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@t",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@t",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, capture_output=True, text=True, check=True).stdout


def build_repository(path: Path, commits: list[dict], *, bare: bool = True) -> list[str]:
    """Each commit: {"message", "files": {path: text or None}, optional "tag": (name, annotation)}."""
    work = path.with_name(path.name + "-work")
    work.mkdir(parents=True)
    git(work, "init", "-q")
    git(work, "symbolic-ref", "HEAD", "refs/heads/main")
    shas = []
    for commit in commits:
        for name, text in commit["files"].items():
            if text is None:
                (work / name).unlink()
                continue
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text)
        git(work, "add", "-A")
        git(work, "commit", "-q", "--allow-empty", "-m", commit["message"])
        shas.append(git(work, "rev-parse", "HEAD").strip())
        if "tag" in commit:
            git(work, "tag", "-a", commit["tag"][0], "-m", commit["tag"][1])
    if bare:
        git(path.parent, "clone", "-q", "--bare", str(work), str(path))
    else:
        work.rename(path)
    return shas
