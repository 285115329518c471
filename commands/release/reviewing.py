"""What `/release name` shows before it proposes a version: the merged pull requests and commits
since the last release that the release's changelog section does not mention."""

from __future__ import annotations

from commands.engine.ports import Forge, ForgeError
from commands.engine.settings import ProjectSettings
from commands.rules import changelog as cl
from commands.rules import versioning as v
from commands.rules.review import unmentioned
from commands.rules.tags import final_tag
from commands.rules.wording import plural

SHOWN = 15


async def not_in_changelog(
    forge: Forge, project: ProjectSettings, head_sha: str, version: str, text: str
) -> str | None:
    """A section for the proposal, or None when the notes mention everything (or nothing was
    released before: the whole history is no review). `text` is the changelog as it would be
    written, with the section of `version`."""
    try:
        names = [t.name for t in await forge.tags(project.tag_prefix)]
        last = v.last_release(names, project.tag_prefix)
        since = final_tag(project.tag_prefix, str(last)) if last else None
        if since not in names:
            return None
        section = cl.section_text(cl.parse(text, project.changelog), version) or ""
        missing = unmentioned(await forge.commit_messages(since, head_sha), section)
    except (ForgeError, cl.ChangelogError):
        return None  # the review helps; it never blocks a proposal
    if not missing:
        return None
    lines = [m.line() for m in missing[:SHOWN]]
    if len(missing) > SHOWN:
        lines.append(f"… and {len(missing) - SHOWN} more")
    return (
        f"Not in the changelog: {plural(len(missing), 'change')} since {since} that the notes do not mention "
        f"(add them under `## [Unreleased]` before naming, if they are news):\n" + "\n".join(lines)
    )
