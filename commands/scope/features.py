"""/scope: the features a release promises, each with its acceptance tests, and the freeze.

After the freeze, adding or removing a feature needs the pilot (or a release manager) and
`--override REASON`; the exception is recorded and shown in the status and the release notes.
"""

from __future__ import annotations

from commands.engine import audit, lookup
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotAllowed, NotFound, UsageError
from commands.engine.outbox import tell_team
from commands.engine.reply import Field, Reply
from commands.engine.roles import ANYONE, CREW, PILOT_OR_MANAGER, Role
from commands.engine.services import Services
from commands.engine.spec import CommandSpec, Kind, Option
from commands.rules.lifecycle import Action, State, next_state
from storage.queries import candidates, releases, scope

READY, FAILING, UNTESTED = "ready", "failing", "untested"


def _frozen_change(inv: Invocation, frozen: bool, what: str) -> str | None:
    """The override reason when the scope is frozen (and the actor may override); refuses otherwise."""
    if not frozen:
        return None
    override = inv.args.get("override")
    if not override:
        raise Conflict(
            f"The scope is frozen: {what} needs the pilot and `--override REASON`.",
            "Or reopen the scope with `/scope unfreeze` (the pilot).",
        )
    if not inv.roles & {Role.PILOT, Role.RELEASE_MANAGER}:
        raise NotAllowed("Only the pilot or release managers may change a frozen scope.")
    return override


async def add(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    tests = list(inv.args.get("tests") or ())
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        _open(rel, proj.key)
        override = _frozen_change(inv, rel.scope_frozen_at is not None, "adding a feature")
        person = await audit.actor_id(session, inv)
        feature = await scope.add_feature(
            session,
            release_id=rel.id,
            title=inv.args["title"],
            tests=tests,
            now=now,
            added_by_id=person,
            override=override,
        )
        await audit.record(
            session,
            inv,
            "scope.add",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"#{feature.id} {feature.title}" + (f"; override: {override}" if override else ""),
            person_id=person,
        )
    reply = Reply(
        text=f"Added feature #{feature.id} to {lookup.name(proj.key, rel)}: {feature.title}",
        fields=[Field("Acceptance tests", ", ".join(tests) or "none yet")],
    )
    if not tests:
        reply.footer = "A feature without acceptance tests cannot be shown ready; add them with `--tests`."
    if override:
        reply.fields.append(Field("Override", override))
    return reply


async def remove(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    number: int = inv.args["feature"]
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        _open(rel, proj.key)
        feature = next((f for f in await scope.features(session, rel.id) if f.id == number), None)
        if feature is None:
            raise NotFound(
                f"{lookup.name(proj.key, rel)} has no feature #{number}.", f"`/scope list {ref}` lists them."
            )
        override = _frozen_change(inv, rel.scope_frozen_at is not None, "removing a feature")
        person = await audit.actor_id(session, inv)
        await scope.remove_feature(
            session, feature.id, now=now, removed_by_id=person, reason=inv.args.get("reason"), override=override
        )
        await audit.record(
            session,
            inv,
            "scope.remove",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"#{feature.id} {feature.title}" + (f"; override: {override}" if override else ""),
            person_id=person,
        )
    return Reply(text=f"Removed feature #{feature.id} from {lookup.name(proj.key, rel)}: {feature.title}")


def _open(rel, key: str) -> None:
    if not State(rel.state).is_open:
        raise Conflict(f"{key} {rel.version or '#' + str(rel.number)} is {rel.state}; its scope is history.")


async def list_(inv: Invocation, svc: Services) -> Reply:
    ref = inv.args["release"]
    async with svc.db.read() as session:
        proj, rel = await lookup.release(session, ref)
        found = await scope.features(session, rel.id, include_removed=True)
        cut = await candidates.of_release(session, rel.id, states=("cut", "deployed", "failed"))
        outcomes = await scope.results(session, cut[-1].id) if cut else {}
    title = lookup.name(proj.key, rel)
    if not found:
        return Reply(
            text=f"{title} has no features in its scope yet.", footer=f'`/scope add {ref} "TITLE" --tests T1,T2`'
        )
    lines = []
    for feature in found:
        if feature.state == "removed":
            lines.append(
                f"~#{feature.id} {feature.title}~ removed" + (f" ({feature.reason})" if feature.reason else "")
            )
            continue
        tests = [t for t in feature.tests.split(",") if t]
        status = feature_status(tests, outcomes)
        shown = ", ".join(f"{t} {outcomes.get(t, '—')}" for t in tests) or "no tests"
        extra = f" — added after the freeze: {feature.override}" if feature.override else ""
        lines.append(f"#{feature.id} {feature.title} — {status} ({shown}){extra}")
    frozen = "frozen" if rel.scope_frozen_at else "open"
    against = f"results for {cut[-1].tag}" if cut else "no candidate yet"
    return Reply(text=f"Scope of {title} ({frozen}; {against}):", sections=["\n".join(lines)])


def feature_status(tests: list[str], outcomes: dict[str, str]) -> str:
    if not tests or any(t not in outcomes for t in tests):
        return FAILING if any(outcomes.get(t) == "fail" for t in tests) else UNTESTED
    return READY if all(outcomes[t] == "pass" for t in tests) else FAILING


async def freeze(inv: Invocation, svc: Services) -> Reply:
    return await _freeze(inv, svc, frozen=True)


async def unfreeze(inv: Invocation, svc: Services) -> Reply:
    return await _freeze(inv, svc, frozen=False)


async def _freeze(inv: Invocation, svc: Services, frozen: bool) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        title = lookup.name(proj.key, rel)
        action = Action.FREEZE if frozen else Action.UNFREEZE
        target = next_state(State(rel.state), action, subject=title)
        person = await audit.actor_id(session, inv)
        reason = inv.args.get("reason")
        moved = await releases.move(
            session,
            rel,
            to_state=target.value,
            action=action.value,
            actor_id=person,
            now=now,
            reason=reason,
            also={"scope_frozen_at": now if frozen else None},
        )
        if not moved:
            raise Conflict(f"{title} changed meanwhile.", "Check `/release status`.")
        count = len(await scope.features(session, rel.id))
        await audit.record(
            session,
            inv,
            f"scope.{action.value}",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=reason,
            person_id=person,
        )
        verb = "froze the scope of" if frozen else "reopened the scope of"
        await tell_team(
            session,
            inv,
            ref.project,
            f"{inv.member.display} {verb} {title}" + (f": {reason}" if reason else "."),
            key=f"release:{rel.id}:{action.value}:{now.isoformat()}",
            now=now,
            ref=lookup.ref_text(proj.key, rel),
        )
    if frozen:
        return Reply(
            text=f"Froze the scope of {title}: {count} features.",
            footer="Changes now need the pilot and `--override REASON`.",
        )
    return Reply(text=f"Reopened the scope of {title}: {reason}")


async def result(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    test, outcome, tag = inv.args["test"], inv.args["outcome"], inv.args.get("candidate")
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        cut = await candidates.of_release(session, rel.id, states=("cut", "deployed", "failed"))
        chosen = next((c for c in cut if c.tag == tag), None) if tag else (cut[-1] if cut else None)
        if chosen is None:
            raise NotFound(
                f"{lookup.name(proj.key, rel)} has no candidate {tag}."
                if tag
                else f"{lookup.name(proj.key, rel)} has no candidate yet.",
                f"`/rc list {ref}` lists them.",
            )
        known = {t for f in await scope.features(session, rel.id) for t in f.tests.split(",") if t}
        if test not in known:
            raise UsageError(
                f"No feature of {lookup.name(proj.key, rel)} lists the test `{test}`.",
                f"Known tests: {', '.join(sorted(known)) or 'none'}.",
            )
        person = await audit.actor_id(session, inv)
        await scope.record_result(
            session, candidate_id=chosen.id, test=test, outcome=outcome, now=now, recorded_by_id=person
        )
        await audit.record(
            session,
            inv,
            "scope.result",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"{test} {outcome} on {chosen.tag}",
            person_id=person,
        )
    return Reply(text=f"Recorded {test}: {outcome} on {chosen.tag}.")


_RELEASE = Option("release", Kind.RELEASE, "the release", positional=True, required=True)
_OVERRIDE = Option("override", Kind.TEXT, "why a frozen scope changes (the pilot)")

COMMANDS = [
    CommandSpec(
        group="scope",
        name="add",
        summary="add a feature with its acceptance tests",
        example='/scope add demo "IP over libp2p" --tests T12,T13',
        handler=add,
        mutates=True,
        allowed=CREW,
        options=(
            _RELEASE,
            Option("title", Kind.TEXT, "the feature", positional=True, required=True),
            Option("tests", Kind.LIST, "its acceptance tests (ids or links)"),
            _OVERRIDE,
        ),
    ),
    CommandSpec(
        group="scope",
        name="remove",
        summary="drop a feature",
        example="/scope remove demo 3 --reason slipped",
        handler=remove,
        mutates=True,
        allowed=CREW,
        options=(
            _RELEASE,
            Option("feature", Kind.INT, "the feature's number", positional=True, required=True),
            Option("reason", Kind.TEXT, "why"),
            _OVERRIDE,
        ),
    ),
    CommandSpec(
        group="scope",
        name="list",
        summary="features, their tests and results on the latest candidate",
        example="/scope list demo",
        handler=list_,
        allowed=ANYONE,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="scope",
        name="freeze",
        summary="freeze the scope",
        example="/scope freeze demo",
        handler=freeze,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        options=(_RELEASE,),
    ),
    CommandSpec(
        group="scope",
        name="unfreeze",
        summary="reopen a frozen scope",
        example='/scope unfreeze demo --reason "late fix"',
        handler=unfreeze,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        options=(_RELEASE, Option("reason", Kind.TEXT, "why", required=True)),
    ),
    CommandSpec(
        group="scope",
        name="result",
        summary="record an acceptance test's result on a candidate",
        example="/scope result demo T12 pass --candidate v1.3.0-rc1",
        handler=result,
        mutates=True,
        allowed=CREW,
        options=(
            _RELEASE,
            Option("test", Kind.TEXT, "the test id", positional=True, required=True),
            Option("outcome", Kind.CHOICE, "the outcome", positional=True, required=True, choices=("pass", "fail")),
            Option("candidate", Kind.TEXT, "the candidate's tag (default: the latest)"),
        ),
    ),
]
