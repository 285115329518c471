"""Main and the release branch between two cycles.

After a ship, Tower writes the released changelog section into main (`merge_back`): main's
Unreleased keeps only what was added there meanwhile, so the next cycle names its version from
those entries alone. The next cycle's release branch starts from main: when it is named, a release
branch that holds nothing beyond the last shipped tag is restarted from main's head (`source`).
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.engine.ports import Commit, Forge, ForgeConflict, ForgeError, Tag
from commands.engine.settings import ProjectSettings
from commands.rules import changelog as cl
from commands.rules import versioning as v
from commands.rules.tags import final_tag

ATTEMPTS = 3  # main may move between reading and committing: read again, merge again


@dataclass(frozen=True)
class Source:
    """Where a new release is read from and where its release branch will be."""

    head: Commit  # the commit to read the changelog from
    on_release_branch: bool  # the release branch exists and is the one to read
    restart: bool  # the release branch exists but only holds what already shipped: restart it at `head`


async def source(forge: Forge, project: ProjectSettings, tags: list[Tag]) -> Source | None:
    """The release branch if it holds work of this cycle; else main (None: neither exists)."""
    branch = await forge.head(project.release_branch)
    main = await forge.head(project.main_branch)
    if branch is None:
        return Source(main, False, False) if main else None
    if main is None or project.release_branch == project.main_branch:
        return Source(branch, True, False)
    last = v.last_release([t.name for t in tags], project.tag_prefix)
    shipped = final_tag(project.tag_prefix, str(last)) if last else None
    if shipped in {t.name for t in tags} and not await forge.commit_messages(shipped, branch.sha):
        return Source(main, False, True)
    return Source(branch, True, False)


async def only_on_the_release_branch(forge: Forge, project: ProjectSettings, tag: str) -> list[str]:
    """Subjects of the commits a shipped tag holds that main does not (fixes made on the release
    branch), without Tower's own "Releasing vX": the next release branch starts from main, so
    they must reach main some other way. Raises ForgeError."""
    if project.release_branch == project.main_branch:
        return []
    messages = await forge.commit_messages(project.main_branch, tag)
    subjects = [m.partition("\n")[0] for m in messages]
    return [s for s in subjects if not s.startswith("Releasing ")]


async def merge_back(forge: Forge, project: ProjectSettings, tag: str, named_from: str | None = None) -> str | None:
    """Write the changelog as released at `tag` into main, keeping main's newer Unreleased entries;
    `named_from` is the commit the release was named from (its Unreleased entries are the released
    ones, however they were polished). Returns the new commit's sha, or None when main needed
    nothing. Raises ForgeError."""
    if project.release_branch == project.main_branch:
        return None
    released = await forge.read_file(project.changelog, tag)
    try:
        base = await forge.read_file(project.changelog, named_from) if named_from else None
    except ForgeError:
        base = None  # that commit is gone (history rewritten): match the entries by their text alone
    for attempt in range(ATTEMPTS):
        main = await forge.head(project.main_branch)
        if main is None or released is None:
            return None
        text = await forge.read_file(project.changelog, main.sha)
        merged = released if text is None else cl.merge_release(text, released, project.changelog, base)
        if merged == text:
            return None
        try:
            return await forge.commit_files(
                project.main_branch,
                f"Merge the {tag} changelog into {project.main_branch}",
                {project.changelog: merged},
                parent_sha=main.sha,
            )
        except ForgeConflict:
            if attempt == ATTEMPTS - 1:
                raise
    return None
