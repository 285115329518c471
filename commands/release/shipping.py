"""/release ship: the gates (simmer passed, the ship checklist, no blackout day), the final tag on
what simmered, the forge's release page with the notes, the announcement, the integrate pipeline,
the all-clear later and the previous release's deployment retired after its grace period.

Both forge writes are idempotent, so a ship interrupted halfway is finished by running it again.
Shipping past a closed gate needs a release manager's `--override REASON`, which is recorded.
Projects without a deploy pipeline (libraries) ship straight from a candidate.
"""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from commands.deploy.events import new_operation_id, run_request
from commands.engine import audit, lookup, outbox
from commands.engine.context import Invocation
from commands.engine.errors import CommandError, NotAllowed, UsageError
from commands.engine.outbox import tell_team
from commands.engine.ports import CIError, ForgeError
from commands.engine.reply import Field, Reply
from commands.engine.roles import PILOT_OR_MANAGER, Role
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from commands.release import announce, branches
from commands.rules.calendar_days import blackout_gate, local_day
from commands.rules.changelog import ChangelogError
from commands.rules.checklist import refusal
from commands.rules.lifecycle import Action, State, next_state
from commands.rules.tags import final_tag
from commands.rules.wording import plural
from commands.scope import readiness
from storage.queries import candidates, deploys, operations, releases


async def ship(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project: ProjectSettings = ref.project
    override: str | None = inv.args.get("override")
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        cut = await candidates.of_release(session, rel.id, states=("cut",))
        live = await deploys.of_release(session, rel.id, states=deploys.UP)
        title = lookup.name(proj.key, rel)
        state = State(rel.state)
        next_state(state, Action.SHIP, subject=title)
        absent = await readiness.blocking(session, project, rel, "ship")
    gates = []
    if state is State.CANDIDATE and project.ci is not None:
        gates.append(f"{title} has not been deployed: {project.key} deploys through CI, so it ships after its simmer")
    today = local_day(svc.clock.now(), project.timezone)
    closed = blackout_gate(today, project.blackout_weekdays, project.blackout_dates, project.weekend_days)
    if closed:
        gates.append(closed)
    if absent:
        gates.append(refusal("ship", absent).rstrip("."))
    if gates and not override:
        raise CommandError(
            "Not shipping: " + "; ".join(gates) + ".",
            "A release manager may ship anyway with `--override REASON`, which is recorded.",
        )
    if override and Role.RELEASE_MANAGER not in inv.roles:
        raise NotAllowed("Only release managers may ship with `--override`.")
    if not cut:
        raise UsageError(
            f"{title} has no candidate to ship.", f"Cut one first: `/rc cut {lookup.ref_text(proj.key, rel)}`."
        )
    # What ships is what simmered: the candidate of the live deployment, else the last one cut.
    candidate = next((c for c in cut if live and c.id == live[-1].candidate_id), cut[-1])
    assert candidate.commit_sha is not None, f"{candidate.tag} is cut, so its commit is known"
    tag = final_tag(project.tag_prefix, lookup.version_of(rel))  # a release that may ship is named
    notes = _notes_of(candidate.notes, candidate.tag)
    forge = svc.forges.for_project(project)
    if inv.args.get("dry-run"):
        page = (
            ""
            if project.forge == "local"
            else f", and publish a {project.forge} release “{project.display} {rel.version}”"
        )
        return Reply(
            text=f"Dry run: would tag {tag} at {candidate.commit_sha[:10]} (from {candidate.tag}){page}; "
            "nothing was written.",
            sections=[f"Notes:\n{notes or '(none)'}"],
        )
    try:
        await forge.create_tag(tag, candidate.commit_sha, f"{tag}\n\n{notes}".rstrip() + "\n")
        url = await forge.create_release(tag, f"{project.display} {rel.version}", notes)
    except ForgeError as err:
        raise CommandError(f"{err} {title} is not shipped yet; running the command again finishes the job.") from None
    now = svc.clock.now()
    async with svc.db.write() as session:
        proj, current = await lookup.release(session, ref)
        person_id = await audit.actor_id(session, inv)
        target = next_state(State(current.state), Action.SHIP, subject=title)
        overridden = f"; override ({'; '.join(gates) or 'no gate was closed'}): {override}" if override else ""
        why = f"{tag} from {candidate.tag}" + overridden
        if not await releases.move(
            session, current, to_state=target.value, action=Action.SHIP.value, actor_id=person_id, now=now, reason=why
        ):
            raise CommandError(f"{title} changed while it was being shipped.", "Check `/release status`.")
        await audit.record(
            session,
            inv,
            "release.ship",
            now,
            project_id=proj.id,
            release_id=current.id,
            detail=why,
            person_id=person_id,
        )
        await tell_team(
            session,
            inv,
            project,
            f"{inv.person.display if inv.person else inv.actor} shipped {project.key} {rel.version} ({tag}).",
            key=f"release:{current.id}:shipped",
            now=now,
            ref=lookup.ref_text(proj.key, current),
        )
        followed = await after_ship(session, svc, project, current, person_id, now)
    await _integrate_and_point(svc, project, current, candidate.commit_sha, tag)
    fields = [
        Field("Tag", f"`{tag}` at {candidate.commit_sha[:10]}"),
        Field("From", f"`{candidate.tag}`"),
        Field("Then", followed),
    ]
    if url:
        fields.append(Field("Release page", url))
    if override:
        fields.append(Field("Override", override))
    return Reply(text=f"Shipped {project.key} {rel.version}.", fields=fields)


async def after_ship(session, svc: Services, project: ProjectSettings, release, person_id: int | None, now) -> str:
    """In the ship's own transaction: the announcement, the all-clear later, the previous
    release's deployment retired after its grace period."""
    done = []
    targets = announce.channels_of(project)
    if targets:
        number, _ = await announce.queue(
            session, svc, project, release, channels=targets, at=None, created_by_id=person_id, now=now
        )
        done.append(f"announcement #{number} to {plural(len(targets), 'channel')}")
    clear_at = now + timedelta(days=project.all_clear_days)
    note = Reply(
        text=f"All clear for {project.key} {release.version}: "
        f"{plural(project.all_clear_days, 'day')} since it shipped. The pilot is off duty for it."
    )
    await outbox.post_many(
        session, project.channels.team, note, key=f"release:{release.id}:all-clear", now=now, at=clear_at
    )
    done.append(f"all clear on {clear_at.astimezone(ZoneInfo(project.timezone)):%Y-%m-%d %H:%M %Z}")
    retire_at = now + timedelta(days=project.retire_after_days)
    for earlier, _ in await releases.listing(session, project_id=release.project_id, states=[State.RELEASED.value]):
        if earlier.id == release.id:
            continue
        for deployment in await deploys.of_release(session, earlier.id, states=deploys.UP):
            if deployment.retire_at is None:
                await deploys.touch(session, deployment.id, retire_at=retire_at)
                done.append(
                    f"{earlier.version} on {deployment.environment} retires "
                    f"{retire_at.astimezone(ZoneInfo(project.timezone)):%Y-%m-%d}"
                )
    return "; ".join(done)


async def _integrate_and_point(svc: Services, project: ProjectSettings, release, sha: str, tag: str) -> None:
    """Outside the transaction: the integrate pipeline and the release branch pointers. Neither blocks
    the ship; a failure is told to the team."""
    ci = svc.cis.for_project(project)
    problems = []
    if ci is not None:
        async with svc.db.write() as session:  # recorded first, so its callbacks are recognised
            now = svc.clock.now()
            known = await operations.of_release(session, release.id, "integrate")
            op = known.key if known else new_operation_id(project.key, str(release.number), "integrate")
            await operations.start(
                session, key=op, kind="integrate", release_id=release.id, payload="{}", now=now, lease=timedelta(0)
            )
        request = run_request(svc, project, release, tag, op, "integrate", None)
        try:
            await ci.find(request) or await ci.trigger(request)
        except CIError as err:
            problems.append(f"the integrate pipeline did not start ({err})")
    forge = svc.forges.for_project(project)
    async with svc.db.read() as session:
        named = await operations.get(session, f"release:{release.id}:name")
    named_from = json.loads(named.result or "{}").get("base") if named is not None else None
    try:
        await branches.merge_back(forge, project, tag, named_from)
        apart = await branches.only_on_the_release_branch(forge, project, tag)
    except (ForgeError, ChangelogError) as err:
        problems.append(f"the {tag} changelog was not written into {project.main_branch} ({err})")
    else:
        if apart:
            problems.append(
                f"{tag} holds {plural(len(apart), 'commit')} that {project.main_branch} does not "
                f"({'; '.join(apart[:5])}{'; …' if len(apart) > 5 else ''}): merge them into "
                f"{project.main_branch}, since the next release branch starts from there"
            )
    for branch, moment in project.branch_pointers.items():
        if moment == "released":
            try:
                await forge.move_branch(branch, sha)
            except ForgeError as err:
                problems.append(f"{branch} was not moved to {tag} ({err})")
    if problems:
        async with svc.db.write() as session:
            note = Reply(text=f"After shipping {project.key} {release.version}: " + "; ".join(problems) + ".", ok=False)
            await outbox.post_many(
                session, project.channels.team, note, key=f"release:{release.id}:after-ship", now=svc.clock.now()
            )


def _notes_of(annotation: str | None, candidate_tag: str) -> str:
    """The candidate's notes without its heading lines (the tag name and the "Candidate …" line)."""
    if not annotation:
        return ""
    body = annotation.split("\n\n", 2)
    return body[2].strip() if len(body) == 3 and body[0] == candidate_tag else annotation.strip()


COMMANDS = [
    CommandSpec(
        group="release",
        name="ship",
        summary="final tag vV on the last candidate, the forge's release page with the notes, the team told",
        example="/release ship demo",
        handler=ship,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        details="A project that deploys ships after its simmer; `--override REASON` (release managers) ships a "
        "candidate that was not deployed, and is recorded.",
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("override", Kind.TEXT, "ship despite a gate, and why (release managers)"),
            Option("dry-run", Kind.FLAG, "show what would be tagged and published, and write nothing"),
        ),
    ),
]
