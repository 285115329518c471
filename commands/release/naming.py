"""/release name: the version from the changelog (`/release notes` reads the notes it carries: notes.py).

Naming reads the release branch (or the main branch, until the release branch exists), proposes a
version with its reasons, and on confirmation commits "Releasing vX" with the changelog renamed.
The commit is recorded as an operation first, so a retry after a forge failure resumes it instead
of committing twice, and Tower's state changes only once the forge has the commit.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import semver

from commands.engine import audit, lookup
from commands.engine.context import Invocation
from commands.engine.errors import CommandError, Conflict, UsageError
from commands.engine.outbox import tell_team
from commands.engine.ports import Commit, Forge, ForgeError, ForgeNotFound
from commands.engine.reply import Button, Field, Reply
from commands.engine.roles import CREW
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.release import branches, reviewing
from commands.rules import changelog as cl
from commands.rules import versioning as v
from commands.rules.lifecycle import Action, State, next_state
from commands.rules.tags import final_tag
from storage.queries import operations, releases

LEASE = timedelta(minutes=2)


@dataclass
class Plan:
    """What `/release name` would write."""

    proposal: v.Proposal | None  # None when the version was given by hand
    version: str
    branch: str
    base_sha: str  # where the release branch starts if it does not exist yet
    branch_exists: bool
    changes: dict[str, str | None]  # path -> new text (None deletes)
    old_changelog: str
    message: str
    without_notes: bool = False  # nothing under Unreleased and no fragments: the release would have no notes
    restart: bool = False  # the release branch only holds what shipped: it restarts at main's head (base_sha)


async def plan_naming(forge: Forge, project: ProjectSettings, wanted: semver.Version | None, today: str) -> Plan:
    tags = await forge.tags(project.tag_prefix)
    start = await branches.source(forge, project, tags)
    if start is None:
        raise ForgeNotFound(
            f"Neither {project.release_branch} nor {project.main_branch} exists in {project.repository}.",
            "Check `release_branch` and `main_branch` in tower.toml.",
        )
    head = start.head
    where = project.release_branch if start.on_release_branch else project.main_branch
    text = await forge.read_file(project.changelog, head.sha)
    if text is None:
        raise UsageError(
            f"There is no {project.changelog} on {where}.",
            "Add a Keep a Changelog file with an `## [Unreleased]` section, or set `changelog` in tower.toml.",
        )
    try:
        log = cl.parse(text, project.changelog)
    except cl.ChangelogError as err:
        raise UsageError(str(err)) from None
    tag_names = [t.name for t in tags]
    last = v.last_release(tag_names, project.tag_prefix) or _last_in_changelog(log)
    changes, source, fragments = await _changes(forge, project, log, head.sha, last, tag_names)
    proposal = None
    if wanted is None:
        try:
            proposal = v.propose(last, changes, source, project.breaking_before_1_0)
        except v.NothingToRelease as err:
            raise Conflict(str(err), "Add entries under `## [Unreleased]`, or give `--version` by hand.") from None
        wanted = proposal.version
    version = str(wanted)
    _check_version(wanted, last, tag_names, project)
    new_entries = v.render_fragments(fragments) if source == "fragments" else None
    edits: dict[str, str | None] = {
        project.changelog: cl.name_release(log, version, today, tag_prefix=project.tag_prefix, new_entries=new_entries)
    }
    for name in fragments:
        edits[f"{project.changelog_fragments}/{name}"] = None
    return Plan(
        proposal,
        version,
        project.release_branch,
        head.sha,
        start.on_release_branch or start.restart,
        edits,
        text,
        f"Releasing {final_tag(project.tag_prefix, version)}",
        # Nothing to write under the new heading, unless an earlier attempt already wrote it (a resume).
        without_notes=not log.unreleased.entries
        and not fragments
        and not (cl.section_text(log, version) or "").strip(),
        restart=start.restart,
    )


async def _changes(
    forge: Forge,
    project: ProjectSettings,
    log: cl.Changelog,
    sha: str,
    last: semver.Version | None,
    tag_names: list[str],
) -> tuple[list[v.Change], str, dict[str, str]]:
    changes = v.from_entries(log.unreleased.entries, project.changelog)
    fragments: dict[str, str] = {}
    if project.changelog_fragments:
        names = await forge.list_dir(project.changelog_fragments, sha) or []
        for name in names:
            if v.fragment_type(name):
                fragments[name] = await forge.read_file(f"{project.changelog_fragments}/{name}", sha) or ""
        if fragments:
            return v.from_fragments(fragments, project.changelog_fragments) + changes, "fragments", fragments
    if changes:
        return changes, "changelog", {}
    since = final_tag(project.tag_prefix, str(last)) if last else None
    messages = await forge.commit_messages(since if since in tag_names else None, sha)
    return v.from_commits(messages), "commits", {}


def _last_in_changelog(log: cl.Changelog) -> semver.Version | None:
    for section in log.releases:
        assert section.version is not None  # releases are the sections that have a version
        try:
            return semver.Version.parse(section.version)
        except ValueError:
            continue
    return None


def _check_version(
    wanted: semver.Version, last: semver.Version | None, tag_names: list[str], project: ProjectSettings
) -> None:
    if last is not None and wanted <= last:
        raise UsageError(
            f"Version {wanted} is not greater than the last release, {last}.",
            f"Give a higher one, e.g. `--version {last.bump_patch()}`.",
        )
    tag = final_tag(project.tag_prefix, str(wanted))
    if tag in tag_names:
        raise Conflict(f"{tag} is already tagged in {project.repository}.", "Choose another version.")


async def name(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project: ProjectSettings = ref.project
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
    title = lookup.name(proj.key, rel)
    next_state(State(rel.state), Action.NAME, subject=title)
    forge = svc.forges.for_project(project)
    today = svc.clock.now().astimezone(ZoneInfo(project.timezone)).date().isoformat()
    try:
        plan = await plan_naming(forge, project, inv.args.get("version"), today)
    except ForgeError as err:
        raise CommandError(f"{err} Nothing was changed.") from None
    if inv.args.get("dry-run"):
        return _dry_run(project, title, plan)
    if not inv.args.get("yes"):
        reply = _proposal(project, title, plan)
        if not plan.proposal or plan.proposal.source != "commits":  # from commits, the Why lists them all
            written = plan.changes[project.changelog] or ""
            if review := await reviewing.not_in_changelog(forge, project, plan.base_sha, plan.version, written):
                reply.sections.insert(1 if plan.proposal else 0, review)  # after the Why
        return reply
    if plan.without_notes and not inv.args.get("no-notes"):
        raise Conflict(
            f"Not naming {project.key} {plan.version}: {_no_notes(project)}",
            f"Write them under `## [Unreleased]` first, or name it without notes: `/release name "
            f"{lookup.ref_text(project.key, rel)} --version {plan.version} --yes --no-notes`.",
        )
    return await _commit(inv, svc, forge, project, rel.id, plan, today)


def _no_notes(project: ProjectSettings) -> str:
    return (
        f"the Unreleased section of {project.changelog} is empty, so it would have no release notes "
        "and its announcement would say nothing about what changed."
    )


async def _commit(
    inv: Invocation, svc: Services, forge: Forge, project: ProjectSettings, release_id: int, plan: Plan, today: str
) -> Reply:
    key = f"release:{release_id}:name"
    now = svc.clock.now()
    async with svc.db.write() as session:
        clash = await releases.with_version(
            session, (await lookup.project_row(session, project, now)).id, plan.version, [State.ABORTED.value]
        )
        if clash is not None and clash.id != release_id:
            raise Conflict(
                f"{project.key}#{clash.number} is already version {plan.version}.", "Choose another version."
            )
        op = await operations.start(
            session,
            key=key,
            kind="name",
            release_id=release_id,
            payload=json.dumps({"version": plan.version}),
            now=now,
            lease=LEASE,
        )
        if op is None:
            raise Conflict(f"{project.key} is being named right now.", "Wait a moment, then check `/release status`.")
        await operations.update_payload(session, key, json.dumps({"version": plan.version}), now)
    try:
        sha = await _write(forge, project, plan, today)
    except ForgeError as err:
        async with svc.db.write() as session:
            await operations.release_claim(session, key, str(err), svc.clock.now())
        raise CommandError(f"{err} Tower's state is unchanged; run the command again.") from None
    now = svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, inv.args["release"])
        person_id = await audit.actor_id(session, inv)
        target = next_state(State(rel.state), Action.NAME, subject=lookup.name(proj.key, rel))
        moved = await releases.move(
            session,
            rel,
            to_state=target.value,
            action=Action.NAME.value,
            actor_id=person_id,
            now=now,
            also={"version": plan.version},
            reason=f"commit {sha[:10]}",
        )
        if not moved:
            raise Conflict(f"{project.key}#{rel.number} changed while it was being named.", "Check `/release status`.")
        done = {"version": plan.version, "sha": sha, "base": plan.base_sha}  # base: what the ship merges back from
        await operations.finish(session, key, json.dumps(done), now)
        await audit.record(
            session,
            inv,
            "release.name",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{plan.version} at {sha}",
            person_id=person_id,
        )
        await tell_team(
            session,
            inv,
            project,
            f"{_who(inv)} named {project.key} {plan.version}.",
            key=f"release:{rel.id}:named",
            now=now,
            ref=f"{project.key}@{plan.version}",
        )
    return Reply(
        text=f"Named {project.key} {plan.version}: committed “{plan.message}” on {plan.branch} ({sha[:10]}).",
        fields=[Field("Changelog", f"`## [{plan.version}] - {today}`"), Field("State", "named")],
        footer=f"Next: `/rc cut {project.key}@{plan.version}` cuts the first candidate.",
    )


async def _write(forge: Forge, project: ProjectSettings, plan: Plan, today: str) -> str:
    """The release commit, exactly once: a previous attempt that got as far as the forge is found."""
    if not plan.branch_exists:
        await forge.create_branch(plan.branch, plan.base_sha)
    head = await forge.head(plan.branch)
    if head is None:  # it existed or was just created: someone deleted it on the forge meanwhile
        raise ForgeError(
            f"The release branch disappeared from the repository while Tower was naming the release "
            f"({plan.branch} of {project.repository})."
        )
    if head.message == plan.message:
        return head.sha  # an earlier attempt committed it and then failed to record it
    if plan.restart and head.sha != plan.base_sha:
        await forge.move_branch(plan.branch, plan.base_sha)  # it held only what shipped: start from main
        head = Commit(plan.base_sha, "")
    if head.sha != plan.base_sha:
        plan = await plan_naming(forge, project, semver.Version.parse(plan.version), today)  # start from the new head
    return await forge.commit_files(plan.branch, plan.message, plan.changes, parent_sha=head.sha)


def _proposal(project: ProjectSettings, title: str, plan: Plan) -> Reply:
    p = plan.proposal
    why = (
        f"{p.bump} bump from {p.last or 'nothing released yet'}, from the {p.source}"
        if p
        else "given by hand with --version"
    )
    sections = ["Why:\n" + "\n".join(p.reasons())] if p else []
    sections.append(_what_it_writes(project, plan))
    command = f"/release name {project.key} --version {plan.version}"
    if plan.without_notes:
        sections.append(f"Warning: {_no_notes(project)} Confirming needs `--yes --no-notes`.")
        command += " --no-notes"
    return Reply(
        text=f"Proposed version for {title}: {plan.version} ({why}).",
        sections=sections,
        buttons=[
            Button(f"Name it {plan.version}", f"{command} --yes", "primary"),
            Button("Dry run", f"{command} --dry-run"),
        ],
        footer=f"Confirm with `{command} --yes`, or choose another with `--version`.",
    )


def _what_it_writes(project: ProjectSettings, plan: Plan) -> str:
    files = ", ".join(f"delete {p}" if t is None else f"update {p}" for p, t in plan.changes.items())
    where = plan.branch if plan.branch_exists else f"{plan.branch} (created from {project.main_branch})"
    if plan.restart:
        where = f"{plan.branch} (restarted from {project.main_branch}: it held only what already shipped)"
    return f"On confirmation: commit “{plan.message}” on {where}: {files}."


def _dry_run(project: ProjectSettings, title: str, plan: Plan) -> Reply:
    new_changelog = plan.changes[project.changelog]
    assert new_changelog is not None, "naming rewrites the changelog, never deletes it"
    diff = difflib.unified_diff(
        plan.old_changelog.splitlines(),
        new_changelog.splitlines(),
        f"a/{project.changelog}",
        f"b/{project.changelog}",
        lineterm="",
        n=2,
    )
    shown = list(diff)[:60]
    return Reply(
        text=f"Dry run of naming {title} {plan.version}: nothing was written.",
        sections=[_what_it_writes(project, plan), "```\n" + "\n".join(shown) + "\n```"],
    )


def _who(inv: Invocation) -> str:
    return inv.person.display if inv.person else inv.actor


COMMANDS = [
    CommandSpec(
        group="release",
        name="name",
        summary="propose the next version from the changelog (or commits), and with --yes commit it",
        example="/release name demo --yes",
        handler=name,
        mutates=True,
        allowed=CREW,
        details="Reads `## [Unreleased]` (or news fragments, or Conventional Commits since the last tag): breaking → "
        "major, feature → minor, fixes → patch. Confirming rewrites the heading to `## [X.Y.Z] - date` under "
        "a fresh Unreleased section, updates compare links, and commits “Releasing vX.Y.Z” on the release branch.",
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("version", Kind.VERSION, "the version, instead of the proposal"),
            Option("yes", Kind.FLAG, "confirm: write the changelog and commit"),
            Option("dry-run", Kind.FLAG, "show exactly what would be written, and write nothing"),
            Option("no-notes", Kind.FLAG, "name it although `## [Unreleased]` is empty: a release without notes"),
        ),
    ),
]
