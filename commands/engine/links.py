"""Public addresses of Tower's own pages, for messages that point readers at them."""

from __future__ import annotations

from storage.tables import Release


def page_url(base: str | None, project_key: str, release: Release) -> str:
    """The release's public page, or "" when Tower has no public URL. Named releases are addressed
    by version, unnamed ones by `r<number>` (a `#` would be read as a fragment)."""
    if not base:
        return ""
    ref = release.version or f"r{release.number}"
    return f"{base.rstrip('/')}/releases/{project_key}/{ref}"
