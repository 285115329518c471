"""The JSON GitHub shows of git objects and refs (git/get-commit, repos/get-commit, git/get-ref,
git/get-tag), for the fake GitHub's handlers."""

from __future__ import annotations

from collections.abc import Callable

from tests.fakes.github_git import GitStore


class Shapes:
    def __init__(self, git: GitStore, api: Callable[[str], str], html: Callable[[str], str]) -> None:
        self.git, self.api, self.html = git, api, html

    def git_commit(self, sha: str) -> dict:
        c = self.git.objects[sha]
        return {
            "sha": sha,
            "node_id": f"C_{sha[:16]}",
            "url": self.api(f"git/commits/{sha}"),
            "html_url": self.html(f"commit/{sha}"),
            "author": c["author"],
            "committer": c["committer"],
            "message": c["message"],
            "tree": {"sha": c["tree"], "url": self.api(f"git/trees/{c['tree']}")},
            "parents": [
                {"sha": p, "url": self.api(f"git/commits/{p}"), "html_url": self.html(f"commit/{p}")}
                for p in c["parents"]
            ],
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }

    def commit(self, sha: str) -> dict:
        git = self.git_commit(sha)
        return {
            "sha": sha,
            "node_id": git["node_id"],
            "url": self.api(f"commits/{sha}"),
            "html_url": git["html_url"],
            "commit": {k: git[k] for k in ("author", "committer", "message", "tree", "url", "verification")}
            | {"comment_count": 0},
            "author": None,
            "committer": None,
            "parents": git["parents"],
        }

    def ref(self, ref: str) -> dict:
        sha = self.git.refs[ref]
        kind = self.git.kind(sha)
        return {
            "ref": ref,
            "node_id": f"REF_{sha[:12]}",
            "url": self.api(f"git/{ref}"),
            "object": {"sha": sha, "type": kind, "url": self.api(f"git/{kind}s/{sha}")},
        }

    def tag(self, sha: str) -> dict:
        t = self.git.objects[sha]
        return {
            "node_id": f"TAG_{sha[:12]}",
            "tag": t["tag"],
            "sha": sha,
            "url": self.api(f"git/tags/{sha}"),
            "message": t["message"],
            "tagger": t["tagger"],
            "object": {**t["object"], "url": self.api(f"git/{t['object']['type']}s/{t['object']['sha']}")},
            "verification": {"verified": False, "reason": "unsigned", "signature": None, "payload": None},
        }
