"""/release ship: the final tag on the last candidate, the forge's release page, the team told.

Both forge writes are idempotent, so a ship interrupted halfway is finished by running it again.
A project that deploys through CI ships from a simmering deployment; shipping a candidate that was
never deployed needs a release manager's `--override REASON`, which is recorded. Projects without
a deploy pipeline (libraries) ship straight from a candidate.
"""

from __future__ import annotations

from commands import audit, lookup, readiness
from commands.context import Field, Invocation, Reply
from commands.errors import CommandError, NotAllowed, UsageError
from commands.ports import ForgeError
from commands.registry import CommandSpec, Kind, Option
from commands.release import tell_team
from commands.roles import PILOT_OR_MANAGER, Role
from commands.rules.calendar_days import blackout, local_day, next_allowed
from commands.rules.checklist import refusal
from commands.rules.lifecycle import Action, State, next_state
from commands.rules.tags import final_tag
from commands.services import Services
from commands.settings import ProjectSettings
from storage.queries import candidates, releases


async def ship(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    project: ProjectSettings = ref.project
    override: str | None = inv.args.get("override")
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        cut = await candidates.of_release(session, rel.id, states=("cut",))
        title = lookup.name(proj.key, rel)
        state = State(rel.state)
        next_state(state, Action.SHIP, subject=title)
        absent = await readiness.blocking(session, project, rel, "ship")
    gates = []
    if state is State.CANDIDATE and project.ci is not None:
        gates.append(f"{title} has not been deployed: {project.key} deploys through CI, so it ships after its simmer")
    today = local_day(svc.clock.now(), project.timezone)
    closed = blackout(today, project.blackout_weekdays, project.blackout_dates)
    if closed:
        allowed = next_allowed(today, project.blackout_weekdays, project.blackout_dates)
        gates.append(f"today is a blackout day ({closed}); the next allowed day is {allowed:%A %Y-%m-%d}")
    if absent:
        gates.append(refusal("ship", absent).rstrip("."))
    if gates and not override:
        raise CommandError("Not shipping: " + "; ".join(gates) + ".",
                           "A release manager may ship anyway with `--override REASON`, which is recorded.")
    if override and Role.RELEASE_MANAGER not in inv.roles:
        raise NotAllowed("Only release managers may ship with `--override`.")
    if not cut:
        raise UsageError(f"{title} has no candidate to ship.", f"Cut one first: `/rc cut {lookup.ref_text(proj.key, rel)}`.")
    candidate = cut[-1]
    tag = final_tag(project.tag_prefix, rel.version)
    notes = _notes_of(candidate.notes, candidate.tag)
    forge = svc.forges.for_project(project)
    if inv.args.get("dry-run"):
        page = "" if project.forge == "local" else f", and publish a {project.forge} release “{project.display} {rel.version}”"
        return Reply(text=f"Dry run: would tag {tag} at {candidate.commit_sha[:10]} (from {candidate.tag}){page}; "
                          "nothing was written.", sections=[f"Notes:\n{notes or '(none)'}"])
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
        if not await releases.move(session, current, to_state=target.value, action=Action.SHIP.value,
                                   actor_id=person_id, now=now, reason=why):
            raise CommandError(f"{title} changed while it was being shipped.", "Check `/release status`.")
        await audit.record(session, inv, "release.ship", now, project_id=proj.id, release_id=current.id,
                           detail=why, person_id=person_id)
        await tell_team(session, inv, project, f"{inv.person.display if inv.person else inv.actor} shipped "
                        f"{project.key} {rel.version} ({tag}).", key=f"release:{current.id}:shipped", now=now,
                        ref=lookup.ref_text(proj.key, current))
    fields = [Field("Tag", f"`{tag}` at {candidate.commit_sha[:10]}"), Field("From", f"`{candidate.tag}`")]
    if url:
        fields.append(Field("Release page", url))
    if override:
        fields.append(Field("Override", override))
    return Reply(text=f"Shipped {project.key} {rel.version}.", fields=fields)


def _notes_of(annotation: str | None, candidate_tag: str) -> str:
    """The candidate's notes without its heading lines (the tag name and the "Candidate …" line)."""
    if not annotation:
        return ""
    body = annotation.split("\n\n", 2)
    return body[2].strip() if len(body) == 3 and body[0] == candidate_tag else annotation.strip()


COMMANDS = [
    CommandSpec(
        group="release", name="ship",
        summary="final tag vV on the last candidate, the forge's release page with the notes, the team told",
        example="/release ship demo", handler=ship, mutates=True, allowed=PILOT_OR_MANAGER,
        details="A project that deploys ships after its simmer; `--override REASON` (release managers) ships a "
                "candidate that was not deployed, and is recorded.",
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("override", Kind.TEXT, "ship despite a gate, and why (release managers)"),
            Option("dry-run", Kind.FLAG, "show what would be tagged and published, and write nothing"),
        ),
    ),
]
