"""/rc cut and /rc list: candidate tags, numbered by Tower's own counters.

A cut is recorded as a pending candidate before the tag is made (the unique tag settles two cuts
at once: one wins, and a cut in progress refuses a second), then confirmed once the forge has the
tag. A cut interrupted by a forge that stopped answering (or by a crash) is finished by the next
`/rc cut`; a forge that refused forgets it, freeing its number.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError

from commands.engine import audit, lookup
from commands.engine.context import Invocation
from commands.engine.errors import CommandError, Conflict, UsageError
from commands.engine.outbox import tell_team
from commands.engine.ports import Forge, ForgeError, ForgeNotFound, ForgeUnavailable
from commands.engine.reply import Button, Field, Reply
from commands.engine.roles import ANYONE, CREW
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules import changelog as cl
from commands.rules.lifecycle import Action, State, next_state
from commands.rules.tags import Existing, TagRefused, next_cut
from commands.scope import readiness, tests_green
from storage.queries import candidates, releases
from storage.tables import Candidate

IN_FLIGHT = timedelta(minutes=2)  # a pending cut younger than this is someone's cut in progress
JUST_CUT = timedelta(minutes=2)  # a second cut of the same commit this soon is the same request twice


async def cut(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project: ProjectSettings = ref.project
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        existing = await candidates.of_release(session, rel.id)
        title = lookup.name(proj.key, rel)
        next_state(State(rel.state), Action.CUT, subject=title)
    forge = svc.forges.for_project(project)
    tests = None
    if project.require_tests:  # the checklist's "Tests pass on the commit" follows what the CI says now
        try:
            sha, _ = await _target(forge, project, inv.args.get("ref"))
        except ForgeError as err:
            raise CommandError(f"{err} Nothing was changed.") from None
        tests = await tests_green.refresh(svc, forge, project, rel.id, sha)
    async with svc.db.read() as session:
        await readiness.require(session, project, rel, "rc")
    unfinished = [c for c in existing if c.state in ("pending", "interrupted")]
    if unfinished and not inv.args.get("dry-run"):
        candidate = unfinished[0]
        if candidate.state == "pending" and candidate.created_at > svc.clock.now() - IN_FLIGHT:
            raise Conflict(
                f"{candidate.tag} is being cut right now.",
                f"See `/rc list {lookup.ref_text(proj.key, rel)}` in a moment.",
            )
        return await _resume(inv, svc, forge, project, proj.id, rel, candidate)
    version = lookup.version_of(rel)  # cutting is legal only once the release is named
    try:
        # Tags of this version on the forge that Tower did not cut (made by hand): their numbers are taken.
        ours = {c.tag for c in existing}
        foreign = [t.name for t in await forge.tags(f"{project.tag_prefix}{version}") if t.name not in ours]
        planned = partial(
            next_cut,
            project.tag_scheme,
            project.tag_prefix,
            version,
            [Existing(c.kind, c.rc, c.patch, c.build) for c in existing],
            boot=bool(inv.args.get("boot")),
            patch=bool(inv.args.get("patch")),
        )
        plan, plain = planned(taken=foreign), planned()
    except TagRefused as err:
        raise UsageError(str(err)) from None
    except ForgeError as err:
        raise CommandError(f"{err} Nothing was changed.") from None
    try:
        sha, subject = await _target(forge, project, inv.args.get("ref"))
        notes = await _notes(forge, project, sha, lookup.version_of(rel))
    except ForgeError as err:
        raise CommandError(f"{err} Nothing was changed.") from None
    if tests is not None and sha != tests.sha:
        raise Conflict(
            f"{project.release_branch} moved while its tests were checked; nothing was changed.", "Run it again."
        )
    twin = _just_cut_from(existing, plan.kind, sha, svc.clock.now())
    if twin is not None and not inv.args.get("again") and not inv.args.get("dry-run"):
        # Two people (or one double-click, or Slack and Discord at once) asking for the same thing.
        seconds = int((svc.clock.now() - twin.created_at).total_seconds())
        raise Conflict(
            f"{twin.tag} was cut from this same commit {seconds}s ago, so this looks like the same "
            "request twice; nothing was changed.",
            "To cut another candidate of the same code, add --again.",
        )
    message = f"{plan.tag}\n\nCandidate {plan.label} of {project.display} {version}.\n\n{notes}".rstrip() + "\n"
    if inv.args.get("dry-run"):
        return Reply(
            text=f"Dry run: would tag {plan.tag} at {sha[:10]} (“{subject}”); nothing was written.",
            sections=["Annotation:\n```\n" + message.rstrip() + "\n```"],
        )
    now = svc.clock.now()
    try:
        async with svc.db.write() as session:
            # Another process may have cut between our read and now; its tag then looked "foreign" to us.
            _refuse_a_twin_cut_meanwhile(await candidates.of_release(session, rel.id), existing, inv, title)
            candidate = await candidates.add(
                session,
                release_id=rel.id,
                kind=plan.kind,
                tag=plan.tag,
                rc=plan.rc,
                patch=plan.patch,
                build=plan.build,
                notes=message,
                commit_sha=sha,
                created_by_id=await audit.actor_id(session, inv),
                now=now,
            )
    except IntegrityError:
        raise Conflict(
            f"Someone cut {plan.tag} for {title} at the same moment.",
            f"See `/rc list {lookup.ref_text(proj.key, rel)}`.",
        ) from None
    reply = await _tag(inv, svc, forge, project, proj.id, rel, candidate, sha)
    if tests is not None:
        reply.fields.append(Field("Tests", f"{tests.detail} on {tests.sha[:10]}"))
    if plain.tag != plan.tag:
        reply.sections.append(
            f"Skipped {plain.tag}: it is already on the forge and was not cut by Tower "
            f"(tags of {version} made outside Tower: {', '.join(sorted(foreign))})."
        )
    return reply


def _refuse_a_twin_cut_meanwhile(fresh: list[Candidate], seen: list[Candidate], inv: Invocation, title: str) -> None:
    known = {c.id for c in seen}
    meanwhile = [c for c in fresh if c.id not in known]
    if meanwhile and not inv.args.get("again"):
        raise Conflict(
            f"Someone cut {meanwhile[-1].tag} for {title} at the same moment; nothing was changed.",
            "To cut another candidate anyway, add --again.",
        )


def _just_cut_from(existing: list[Candidate], kind: str, sha: str, now) -> Candidate | None:
    recent = [c for c in existing if c.kind == kind and c.commit_sha == sha and now - c.created_at < JUST_CUT]
    return recent[-1] if recent else None


async def _resume(inv, svc, forge, project, project_id, rel, candidate: Candidate) -> Reply:
    """A cut that was interrupted: finish it (the tag may already exist) before anything new."""
    try:
        made = {t.name: t.commit_sha for t in await forge.tags(candidate.tag)}
    except ForgeError as err:
        raise CommandError(f"{err} The interrupted cut of {candidate.tag} is kept; run the command again.") from None
    sha = made.get(candidate.tag) or candidate.commit_sha  # where it was meant to go
    assert sha is not None, f"{candidate.tag} was recorded without its commit"  # candidates.add requires one
    return await _tag(inv, svc, forge, project, project_id, rel, candidate, sha, resumed=True)


async def _tag(
    inv, svc, forge: Forge, project, project_id, rel, candidate: Candidate, sha: str, resumed=False
) -> Reply:
    try:
        await forge.create_tag(candidate.tag, sha, candidate.notes or candidate.tag)
    except ForgeUnavailable as err:
        # The tag may or may not exist now: keep the cut, the next /rc cut finds out and finishes it.
        async with svc.db.write() as session:
            await candidates.mark_interrupted(session, candidate.id)
        raise CommandError(f"{err} The cut of {candidate.tag} will be finished by the next `/rc cut`.") from None
    except ForgeError as err:
        async with svc.db.write() as session:
            await candidates.forget_pending(session, candidate.id)
        raise CommandError(f"{err} Nothing was changed.") from None
    now = svc.clock.now()
    async with svc.db.write() as session:
        proj, current = await lookup.release(session, inv.args["release"])
        person_id = await audit.actor_id(session, inv)
        target = next_state(State(current.state), Action.CUT, subject=lookup.name(proj.key, current))
        await candidates.mark_cut(session, candidate.id, sha)
        if target.value != current.state:
            await releases.move(
                session,
                current,
                to_state=target.value,
                action=Action.CUT.value,
                actor_id=person_id,
                now=now,
                reason=candidate.tag,
            )
        await audit.record(
            session,
            inv,
            "rc.cut",
            now,
            project_id=project_id,
            release_id=current.id,
            detail=f"{candidate.tag} at {sha}",
            person_id=person_id,
        )
        await tell_team(
            session,
            inv,
            project,
            f"{_who(inv)} cut {candidate.tag}.",
            key=f"candidate:{candidate.id}:cut",
            now=now,
            ref=lookup.ref_text(proj.key, current),
        )
        everything = await candidates.of_release(session, current.id)
    done = "Finished the interrupted cut of" if resumed else "Cut"
    reply = Reply(
        text=f"{done} {candidate.tag} at {sha[:10]}.",
        fields=[Field("Candidates", ", ".join(c.tag for c in everything if c.state != "pending"))],
    )
    if svc.registry.has("deploy start") and project.ci is not None:  # a library has nothing to deploy
        reply.buttons.append(
            Button(
                "Deploy it",
                f"/deploy start {lookup.ref_text(project.key, current)} --candidate {candidate.tag}",
                "primary",
            )
        )
    return reply


async def _target(forge: Forge, project: ProjectSettings, ref: str | None) -> tuple[str, str]:
    """The commit to tag: `--ref`, else the head of the release branch."""
    if ref:
        sha = await forge.resolve(ref)
        if sha is None:
            raise ForgeNotFound(f"`{ref}` is not a branch, tag or commit of {project.repository}.")
        return sha, ref
    head = await forge.head(project.release_branch)
    if head is None:
        raise ForgeNotFound(
            f"The release branch {project.release_branch} does not exist yet.",
            "Name the release first (`/release name`), which creates it.",
        )
    return head.sha, head.message.splitlines()[0] if head.message else ""


async def _notes(forge: Forge, project: ProjectSettings, sha: str, version: str) -> str:
    text = await forge.read_file(project.changelog, sha)
    if not text:
        return ""
    try:
        return cl.section_text(cl.parse(text, project.changelog), version) or ""
    except cl.ChangelogError:
        return ""  # notes are a courtesy; a broken changelog must not block a cut


async def list_(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        found = await candidates.of_release(session, rel.id)
    title = lookup.name(proj.key, rel)
    if not found:
        return Reply(
            text=f"{title} has no candidates yet.", footer=f"`/rc cut {lookup.ref_text(proj.key, rel)}` cuts one."
        )
    tz = ref.project.timezone
    lines = [
        f"{c.seq}. `{c.tag}`  {(c.commit_sha or '')[:10]}  {c.state}  {lookup.local_date(c.created_at, tz)}"
        for c in found
    ]
    return Reply(text=f"Candidates of {title}, in the order they were cut:", sections=["\n".join(lines)])


def _who(inv: Invocation) -> str:
    return inv.person.display if inv.person else inv.actor


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)

COMMANDS = [
    CommandSpec(
        group="rc",
        name="cut",
        summary="tag the next candidate: -rc2, interim -rc2-p1, -boot, or build +4",
        example="/rc cut demo",
        handler=cut,
        mutates=True,
        allowed=CREW,
        details="The tag is annotated with the release notes and points at the head of the release branch (or --ref).",
        options=(
            _RELEASE,
            Option("patch", Kind.FLAG, "an interim build of the latest RC (-rcN-pM)"),
            Option("boot", Kind.FLAG, "the bootstrap tag (-boot), before the first RC"),
            Option("ref", Kind.TEXT, "tag this branch, tag or commit instead of the release branch head"),
            Option("again", Kind.FLAG, "cut even though a candidate was cut from the same commit minutes ago"),
            Option("dry-run", Kind.FLAG, "show the tag and its annotation, and write nothing"),
        ),
    ),
    CommandSpec(
        group="rc",
        name="list",
        summary="candidates in the order they were cut",
        example="/rc list demo",
        handler=list_,
        allowed=ANYONE,
        options=(_RELEASE,),
    ),
]
