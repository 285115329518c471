"""The release state machine. Pure: no I/O, no clock.

planning → named → frozen → candidate → deploying → simmering → released → retired, with two
exits: `aborted` (a person ends the cycle; final) and `failed` (a deploy, smoke test or health
check failed; the crew fixes it and cuts the next build or patch, so it is not final).
An illegal step raises `IllegalTransition` with a message that says what to do instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    PLANNING = "planning"
    NAMED = "named"
    FROZEN = "frozen"
    CANDIDATE = "candidate"
    DEPLOYING = "deploying"
    SIMMERING = "simmering"
    RELEASED = "released"
    RETIRED = "retired"
    ABORTED = "aborted"
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """Still in its cycle: `/release list` shows it and `PROJECT` refers to it."""
        return self not in (State.RELEASED, State.RETIRED, State.ABORTED)

    @property
    def is_final(self) -> bool:
        return self in (State.RETIRED, State.ABORTED)


class Action(StrEnum):
    OPEN = "open"
    NAME = "name"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CUT = "cut"
    DEPLOY = "deploy"
    DEPLOY_FAILED = "deploy-failed"
    SMOKE_PASSED = "smoke-passed"
    HEALTH_FAILED = "health-failed"
    SHIP = "ship"
    RETIRE = "retire"
    ABORT = "abort"


S, A = State, Action

# Every legal step. Anything not listed is refused.
TRANSITIONS: dict[tuple[State, Action], State] = {
    (S.PLANNING, A.NAME): S.NAMED,
    (S.NAMED, A.FREEZE): S.FROZEN,
    (S.FROZEN, A.UNFREEZE): S.NAMED,
    # Cutting needs a named version; the scope-freeze gate is a project policy checked by `/rc cut`.
    (S.NAMED, A.CUT): S.CANDIDATE,
    (S.FROZEN, A.CUT): S.CANDIDATE,
    (S.CANDIDATE, A.CUT): S.CANDIDATE,
    (S.FAILED, A.CUT): S.CANDIDATE,
    # A patch cut while simmering does not stop the simmer; deploying it does (it restarts the clock).
    (S.SIMMERING, A.CUT): S.SIMMERING,
    (S.CANDIDATE, A.DEPLOY): S.DEPLOYING,
    (S.SIMMERING, A.DEPLOY): S.DEPLOYING,
    (S.FAILED, A.DEPLOY): S.DEPLOYING,
    (S.DEPLOYING, A.DEPLOY_FAILED): S.FAILED,
    (S.DEPLOYING, A.SMOKE_PASSED): S.SIMMERING,
    (S.SIMMERING, A.HEALTH_FAILED): S.FAILED,
    (S.SIMMERING, A.SHIP): S.RELEASED,
    # Straight from a candidate: projects that do not deploy (libraries), or an override; `/release
    # ship` decides which, the state machine only allows it.
    (S.CANDIDATE, A.SHIP): S.RELEASED,
    (S.RELEASED, A.RETIRE): S.RETIRED,
    **{
        (state, A.ABORT): S.ABORTED
        for state in (S.PLANNING, S.NAMED, S.FROZEN, S.CANDIDATE, S.DEPLOYING, S.SIMMERING, S.FAILED)
    },
}

# The command a person types for each action (internal events have none).
COMMAND_OF: dict[Action, str] = {
    A.OPEN: "release new",
    A.NAME: "release name",
    A.FREEZE: "scope freeze",
    A.UNFREEZE: "scope unfreeze",
    A.CUT: "rc cut",
    A.DEPLOY: "deploy start",
    A.SHIP: "release ship",
    A.RETIRE: "deploy retire",
    A.ABORT: "release abort",
}

_VERB: dict[Action, str] = {
    A.NAME: "name",
    A.FREEZE: "freeze the scope of",
    A.UNFREEZE: "reopen the scope of",
    A.CUT: "cut a candidate for",
    A.DEPLOY: "deploy",
    A.DEPLOY_FAILED: "fail the deploy of",
    A.SMOKE_PASSED: "start the simmer of",
    A.HEALTH_FAILED: "fail the simmer of",
    A.SHIP: "ship",
    A.RETIRE: "retire",
    A.ABORT: "abort",
}

# What each state means, said to a person who tried something it does not allow.
_MEANING: dict[State, str] = {
    S.PLANNING: "in planning and has no version yet",
    S.NAMED: "named, with its scope still open",
    S.FROZEN: "frozen, with no candidate cut yet",
    S.CANDIDATE: "at a candidate that is not deployed",
    S.DEPLOYING: "deploying",
    S.SIMMERING: "simmering",
    S.RELEASED: "released",
    S.RETIRED: "retired",
    S.ABORTED: "aborted",
    S.FAILED: "failed at its last deploy",
}

# Specific advice where the generic "next step" would not help.
_ADVICE: dict[tuple[State, Action], str] = {
    (S.NAMED, A.NAME): "It is already named; abort it and open a new release to choose another version.",
    (S.FROZEN, A.FREEZE): "Its scope is already frozen.",
    (S.NAMED, A.UNFREEZE): "Its scope is not frozen.",
    (S.PLANNING, A.UNFREEZE): "Its scope is not frozen.",
    (S.DEPLOYING, A.CUT): "Wait until the running deploy succeeds or fails, then cut.",
    (S.DEPLOYING, A.DEPLOY): "A deploy is already running; `/deploy status` shows it.",
    (S.DEPLOYING, A.SHIP): "Wait for the deploy and smoke test, then the simmer.",
    (S.FAILED, A.SHIP): "Fix it and cut the next build or patch with `/rc cut`, then deploy again.",
    (S.RELEASED, A.ABORT): "It has shipped; retire its deployment with `/deploy retire` instead.",
    (S.RETIRED, A.ABORT): "It has shipped and been retired; there is nothing to abort.",
    (S.ABORTED, A.ABORT): "It was already aborted; nothing to do.",
    (S.RELEASED, A.SHIP): "It has already shipped.",
}


class IllegalTransition(Exception):
    def __init__(self, state: State, action: Action, message: str):
        super().__init__(message)
        self.state, self.action = state, action


def next_state(state: State, action: Action, subject: str = "this release") -> State:
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise IllegalTransition(state, action, explain_refusal(state, action, subject)) from None


def allowed_from(action: Action) -> list[State]:
    return [s for (s, a) in TRANSITIONS if a == action]


def explain_refusal(state: State, action: Action, subject: str = "this release") -> str:
    head = f"Can't {_VERB.get(action, action.value)} {subject}: it is {_MEANING[state]}."
    advice = _ADVICE.get((state, action))
    if advice is None:
        steps = next_steps(state)
        if state.is_final:
            advice = "Open a new release with `/release new`."
        elif steps:
            advice = f"Next: `/{steps[0].command}` ({steps[0].why})."
        else:
            advice = "Wait until the deploy and smoke test report back; `/deploy status` shows them."
    return f"{head} {advice}".strip()


@dataclass(frozen=True)
class Step:
    action: Action
    command: str
    why: str


_NEXT: dict[State, list[tuple[Action, str]]] = {
    S.PLANNING: [(A.NAME, "name the version from the changelog")],
    S.NAMED: [(A.FREEZE, "freeze the scope"), (A.CUT, "cut the first candidate")],
    S.FROZEN: [(A.CUT, "cut the first candidate")],
    S.CANDIDATE: [(A.DEPLOY, "deploy the candidate"), (A.CUT, "cut another candidate"), (A.SHIP, "ship it")],
    S.DEPLOYING: [],
    S.SIMMERING: [(A.SHIP, "ship once the simmer has passed")],
    S.RELEASED: [(A.RETIRE, "retire its deployment when the next release ships")],
    S.RETIRED: [],
    S.ABORTED: [],
    # Deploying again needs a new candidate: the failed one is done, so `/deploy start` comes after the cut.
    S.FAILED: [(A.CUT, "cut the next build or patch with the fix, then deploy it")],
}


def next_steps(state: State) -> list[Step]:
    """What the crew does next in this state, most likely first. Abort is always possible while
    open and is left out."""
    return [Step(a, COMMAND_OF[a], why) for a, why in _NEXT[state]]
