"""/release notes: the release's section of the changelog, read where it lives now (the final tag
once shipped, else the release branch or main), with the scope changes made after the freeze."""

from __future__ import annotations

from commands.engine import lookup
from commands.engine.context import Invocation
from commands.engine.errors import CommandError, UsageError
from commands.engine.ports import ForgeError
from commands.engine.reply import Reply
from commands.engine.roles import ANYONE
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.release import branches
from commands.rules import changelog as cl
from commands.rules.tags import final_tag
from storage.queries import scope


async def notes(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project: ProjectSettings = ref.project
    async with svc.db.read() as session:
        _proj, rel = await lookup.release(session, ref)
    forge = svc.forges.for_project(project)
    try:
        source = final_tag(project.tag_prefix, lookup.version_of(rel)) if rel.state in ("released", "retired") else None
        start = None if source else await branches.source(forge, project, await forge.tags(project.tag_prefix))
        text = await forge.read_file(project.changelog, source or (start.head.sha if start else project.main_branch))
    except ForgeError as err:
        raise CommandError(str(err)) from None
    if text is None:
        raise UsageError(f"There is no {project.changelog} to take notes from.")
    try:
        section = cl.section_text(cl.parse(text, project.changelog), rel.version)
    except cl.ChangelogError as err:
        raise UsageError(str(err)) from None
    title = f"Release notes for {project.key} {rel.version}" if rel.version else f"Unreleased changes in {project.key}"
    async with svc.db.read() as session:
        late = [f for f in await scope.features(session, rel.id, include_removed=True) if f.override]
    exceptions = (
        [
            "Scope changed after the freeze:\n"
            + "\n".join(f"- {'removed' if f.state == 'removed' else 'added'} “{f.title}”: {f.override}" for f in late)
        ]
        if late
        else []
    )
    if not section or not section.strip():
        return Reply(text=f"{title}: none written yet.", sections=exceptions)
    return Reply(text=f"{title}:", sections=[section, *exceptions])


COMMANDS = [
    CommandSpec(
        group="release",
        name="notes",
        summary="release notes from the changelog section",
        example="/release notes demo",
        handler=notes,
        allowed=ANYONE,
        options=(Option("release", Kind.RELEASE, "the release", positional=True, required=True),),
    ),
]
