"""The release state machine: every transition, legal and illegal."""

import itertools

import pytest

from commands.rules.lifecycle import Action, IllegalTransition, State, explain_refusal, next_state, next_steps

S, A = State, Action

# Written out by hand from DESIGN.md and the process it packages, not derived from the code.
LEGAL = {
    (S.PLANNING, A.NAME): S.NAMED,
    (S.NAMED, A.FREEZE): S.FROZEN,
    (S.FROZEN, A.UNFREEZE): S.NAMED,
    (S.NAMED, A.CUT): S.CANDIDATE,
    (S.FROZEN, A.CUT): S.CANDIDATE,
    (S.CANDIDATE, A.CUT): S.CANDIDATE,
    (S.FAILED, A.CUT): S.CANDIDATE,
    (S.SIMMERING, A.CUT): S.SIMMERING,
    (S.CANDIDATE, A.DEPLOY): S.DEPLOYING,
    (S.SIMMERING, A.DEPLOY): S.DEPLOYING,
    (S.FAILED, A.DEPLOY): S.DEPLOYING,
    (S.DEPLOYING, A.DEPLOY_FAILED): S.FAILED,
    (S.DEPLOYING, A.SMOKE_PASSED): S.SIMMERING,
    (S.SIMMERING, A.HEALTH_FAILED): S.FAILED,
    (S.SIMMERING, A.SHIP): S.RELEASED,
    (S.CANDIDATE, A.SHIP): S.RELEASED,  # projects that do not deploy, or an override
    (S.RELEASED, A.RETIRE): S.RETIRED,
    (S.PLANNING, A.ABORT): S.ABORTED,
    (S.NAMED, A.ABORT): S.ABORTED,
    (S.FROZEN, A.ABORT): S.ABORTED,
    (S.CANDIDATE, A.ABORT): S.ABORTED,
    (S.DEPLOYING, A.ABORT): S.ABORTED,
    (S.SIMMERING, A.ABORT): S.ABORTED,
    (S.FAILED, A.ABORT): S.ABORTED,
}
MOVES = [a for a in Action if a is not A.OPEN]  # OPEN creates a release; it moves none
ILLEGAL = [(s, a) for s, a in itertools.product(State, MOVES) if (s, a) not in LEGAL]


@pytest.mark.parametrize(("state", "action"), list(LEGAL))
def test_every_legal_transition(state, action):
    assert next_state(state, action) is LEGAL[(state, action)]


@pytest.mark.parametrize(("state", "action"), ILLEGAL)
def test_every_illegal_transition_is_refused_with_a_reason(state, action):
    with pytest.raises(IllegalTransition) as err:
        next_state(state, action, subject="demo 1.3.0")
    message = str(err.value)
    assert message.startswith("Can't ") and "demo 1.3.0" in message
    # It says what the release is now and something to do about it, not just "no".
    assert state.value in message or _meaning_word(state) in message
    assert len(message.split(". ", 1)) == 2 and message.split(". ", 1)[1].strip()


def _meaning_word(state):
    return {S.PLANNING: "planning", S.FAILED: "failed", S.CANDIDATE: "candidate"}.get(state, state.value)


def test_happy_path_walks_the_whole_cycle():
    state = S.PLANNING
    for action in (A.NAME, A.FREEZE, A.CUT, A.DEPLOY, A.SMOKE_PASSED, A.SHIP, A.RETIRE):
        state = next_state(state, action)
    assert state is S.RETIRED and state.is_final


def test_a_failed_deploy_is_fixed_by_the_next_candidate_not_the_end():
    state = next_state(S.DEPLOYING, A.DEPLOY_FAILED)
    assert state is S.FAILED and state.is_open and not state.is_final
    assert next_state(state, A.CUT) is S.CANDIDATE


def test_terminal_states_refuse_everything():
    for state in (S.RETIRED, S.ABORTED):
        for action in MOVES:
            with pytest.raises(IllegalTransition):
                next_state(state, action)


def test_aborting_twice_says_it_is_already_aborted():
    assert "already aborted" in explain_refusal(S.ABORTED, A.ABORT)


def test_aborting_a_shipped_release_points_to_retiring_it():
    assert "/deploy retire" in explain_refusal(S.RELEASED, A.ABORT)


def test_open_states_are_those_before_release():
    assert {s for s in State if s.is_open} == {
        S.PLANNING,
        S.NAMED,
        S.FROZEN,
        S.CANDIDATE,
        S.DEPLOYING,
        S.SIMMERING,
        S.FAILED,
    }


def test_next_steps_are_legal_from_their_state():
    for state in State:
        for step in next_steps(state):
            assert (state, step.action) in LEGAL
