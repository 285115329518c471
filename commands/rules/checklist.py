"""The release checklist's rules. Pure.

Every release gets the items Tower can verify itself — they tick themselves and cannot be ticked
by hand — plus the project's template of manual items. An item may block a step: cutting a
candidate (rc), deploying, or shipping.
"""

from __future__ import annotations

from dataclasses import dataclass

STEPS = ("rc", "deploy", "ship")
STEP_WORDS = {"rc": "cutting a candidate", "deploy": "deploying", "ship": "shipping"}

# (key, text, the step it blocks); simmer-passed only for projects that deploy.
AUTO_ITEMS = [
    ("changelog-named", "Changelog named", "rc"),
    ("scope-frozen", "Scope frozen", "rc"),
    ("tests-green", "Tests pass on the commit", "rc"),
    ("tag-exists", "Tag exists on the forge", "deploy"),
    ("acceptance-green", "All acceptance tests pass on the candidate", "ship"),
    ("simmer-passed", "Simmer passed", "ship"),
]


@dataclass(frozen=True)
class Facts:
    """What Tower knows about a release, which the automatic items follow."""

    named: bool
    scope_frozen: bool
    tag_exists: bool
    acceptance_green: bool
    simmer_passed: bool
    acceptance_gaps: str = ""  # why acceptance is not green, feature by feature
    tests_green: bool = False  # the CI's verdict on the commit last checked, for projects that require it
    tests_note: str = ""  # what the CI said, when not green


def auto_checked(key: str, facts: Facts) -> bool:
    return {
        "changelog-named": facts.named,
        "scope-frozen": facts.scope_frozen,
        "tag-exists": facts.tag_exists,
        "acceptance-green": facts.acceptance_green,
        "simmer-passed": facts.simmer_passed,
        "tests-green": facts.tests_green,
    }[key]


def note_of(key: str | None, facts: Facts) -> str:
    """What keeps an automatic item unticked, said next to it."""
    return {"acceptance-green": facts.acceptance_gaps, "tests-green": facts.tests_note}.get(key or "", "")


@dataclass(frozen=True)
class ItemView:
    seq: int
    text: str
    before: str | None
    auto: str | None
    checked: bool
    note: str = ""  # what keeps an automatic item unticked
    void: str = ""  # why it no longer counts: its deployment failed, was replaced or retired


# What becomes of a deployment's post-deploy items, by the deployment's state.
_VOID = {
    "failed": "failed",
    "refused": "never ran",
    "superseded": "replaced",
    "retired": "retired",
}


def void_reason(deployment_id: int | None, deployment_state: str | None) -> str:
    """`void — deployment 3 replaced` for an item of a deployment that no longer counts; "" if it does."""
    if deployment_id is None or deployment_state not in _VOID:
        return ""
    return f"void — deployment {deployment_id} {_VOID[deployment_state]}"


def missing(step: str, items: list[ItemView]) -> list[ItemView]:
    """The unticked items that block `step` (and the steps before it); void items block nothing."""
    blocking = STEPS[: STEPS.index(step) + 1]
    return [item for item in items if item.before in blocking and not item.checked and not item.void]


def refusal(step: str, absent: list[ItemView]) -> str:
    listed = "; ".join(
        f"{item.seq}. {item.text}"
        + (f" ({item.note})" if item.note else "")
        + (" (Tower ticks this itself)" if item.auto else "")
        for item in absent
    )
    return f"Not ready for {STEP_WORDS[step]}: {listed}."


def acceptance_gaps(features: list[tuple[int, str, list[str]]], outcomes: dict[str, str]) -> list[str]:
    """What stands between the features (number, title, tests) and a green acceptance item: every
    feature needs tests, and each must have passed on the candidate."""
    gaps = []
    for number, title, tests in features:
        if not tests:
            gaps.append(f"#{number} {title} has no acceptance tests")
            continue
        failed = [t for t in tests if outcomes.get(t) == "fail"]
        not_run = [t for t in tests if t not in outcomes]
        if failed:
            gaps.append(f"#{number} {title}: {', '.join(failed)} failed")
        elif not_run:
            gaps.append(f"#{number} {title}: {', '.join(not_run)} not run")
    return gaps
