"""The fake GitHub's reading of files and directories: repos/get-content with its media types and size
limits, git/get-tree and git/get-blob, as the REST description (version 2022-11-28) documents them.

repos/get-content: a directory lists at most 1,000 entries (more only through git/get-tree); a file of
1 MB or less comes with its content in every media type; a file of 1-100 MB only with the `raw` or
`object` media types (`object` shows `content: ""` and `encoding: "none"`), and the default JSON media
type answers 403 `too_large`; over 100 MB the endpoint refuses. Directories ignore the custom media
types of files (they answer JSON). `object` shows a directory as one object with its `entries`."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

from tests.fakes.github_git import DOCS, GitStore

MB = 1_000_000
TOO_LARGE = {
    "message": "This API returns blobs up to 1 MB in size. The requested blob is too large to fetch via the API, "
    "but you can use the Git Data API to request blobs up to 100 MB in size.",
    "errors": [{"resource": "Blob", "field": "data", "code": "too_large"}],
    "documentation_url": f"{DOCS}/repos/contents#get-repository-content",
}
NOT_FOUND = (404, {"message": "Not Found", "documentation_url": DOCS})
# application/vnd.github+json, application/vnd.github.raw+json, application/vnd.github.v3.raw, …
MEDIA_TYPE = re.compile(r"application/vnd\.github(?:\.v3)?(?:\.(?P<kind>raw|object|html))?(?:\+json)?")


def media_type(accept: str) -> str | None:
    """'json', 'raw', 'object' or 'html' for a GitHub media type in Accept; None if there is none."""
    if found := MEDIA_TYPE.search(accept):
        return found["kind"] or "json"
    return "json" if "application/json" in accept else None


def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))  # GitHub wraps at 60


class Contents:
    def __init__(self, git: GitStore, api: Callable[[str], str], html: Callable[[str], str], repository: str):
        self.git, self._api, self._html, self.repository = git, api, html, repository
        self.max_inline = MB  # larger files: `object`/`raw` only (lower it to test big files cheaply)
        self.max_size = 100 * MB
        self.dir_limit = 1000  # entries of one directory the contents API lists

    def get(self, path: str, ref: str | None, accept: str) -> tuple[Any, ...]:
        """repos/get-content: (status, body) with a JSON body, or (200, bytes) for the raw media type."""
        if not self.git.refs:
            return 404, {"message": "This repository is empty.", "documentation_url": DOCS}
        ref, path = ref or "main", path.strip("/")
        commit = self.git.rev(ref)
        if commit is None:
            return 404, {"message": f"No commit found for the ref {ref}", "documentation_url": DOCS}
        entry = self.git.lookup(self.git.objects[commit]["tree"], path)
        if entry is None:
            return NOT_FOUND
        kind = media_type(accept)
        if entry[1] == "tree":
            listing = [self._item(f"{path}/{n}".lstrip("/"), (m, k, s), ref) for n, m, k, s in self._children(entry)]
            listing = listing[: self.dir_limit]
            if kind == "object":
                return 200, self._item(path, entry, ref) | {"entries": listing}
            return 200, listing
        data = self.git.objects[entry[2]]["data"]
        if len(data) > self.max_size or (len(data) > self.max_inline and kind not in ("raw", "object")):
            return 403, TOO_LARGE
        if kind == "raw":
            return 200, data
        inline = len(data) <= self.max_inline
        item = self._item(path, entry, ref)
        return 200, item | {"encoding": "base64" if inline else "none", "content": b64(data) if inline else ""}

    def tree(self, tree_ish: str, recursive: bool) -> tuple[int, dict]:
        """git/get-tree: a tree by its sha, or a branch or tag name (its commit's tree)."""
        sha = tree_ish if self.git.kind(tree_ish) == "tree" else None
        if sha is None and (commit := self.git.rev(tree_ish)) is not None:
            sha = self.git.objects[commit]["tree"]
        if sha is None:
            return NOT_FOUND
        listing = self._tree(sha, "", recursive)
        return 200, {"sha": sha, "url": self._api(f"git/trees/{sha}"), "tree": listing, "truncated": False}

    def blob(self, sha: str) -> tuple[int, dict]:
        """git/get-blob: any blob up to 100 MB, base64."""
        if self.git.kind(sha) != "blob":
            return NOT_FOUND
        data = self.git.objects[sha]["data"]
        if len(data) > self.max_size:
            return 403, TOO_LARGE
        return 200, {
            "sha": sha,
            "node_id": f"B_{sha[:12]}",
            "size": len(data),
            "url": self._api(f"git/blobs/{sha}"),
            "content": b64(data),
            "encoding": "base64",
        }

    # -- shapes ------------------------------------------------------------------------------------
    def _children(self, entry: tuple[str, str, str]) -> list:
        return self.git.objects[entry[2]]["entries"]

    def _tree(self, sha: str, prefix: str, recursive: bool) -> list[dict]:
        listing = []
        for name, mode, kind, child in self.git.objects[sha]["entries"]:
            url = self._api(f"git/{kind}s/{child}")
            item = {"path": prefix + name, "mode": mode, "type": kind, "sha": child, "url": url}
            if kind == "blob":
                item["size"] = len(self.git.objects[child]["data"])
            listing.append(item)
            if recursive and kind == "tree":
                listing += self._tree(child, f"{prefix}{name}/", recursive)
        return listing

    def _item(self, path: str, entry: tuple[str, str, str], ref: str) -> dict:
        _mode, kind, sha = entry
        item = {
            "type": "dir" if kind == "tree" else "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": 0,
            "url": self._api(f"contents/{path}?ref={ref}"),
            "html_url": self._html(f"{kind}/{ref}/{path}"),
            "git_url": self._api(f"git/{kind}s/{sha}"),
            "download_url": None,
        }
        if kind == "blob":
            item["size"] = len(self.git.objects[sha]["data"])
            item["download_url"] = f"https://raw.githubusercontent.com/{self.repository}/{ref}/{path}"
        return item | {"_links": {"self": item["url"], "git": item["git_url"], "html": item["html_url"]}}
