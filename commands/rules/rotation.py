"""Choosing a release's crew by the conda release-pilot rule. Pure.

A person enters as co-pilot, pilots the next two releases, co-pilots once more to hand over, then
rotates out. So consecutive crews alternate between a swap (the co-pilot takes the controls, the
pilot stays beside them one last time) and a hand-over (the pilot flies again, with a newcomer
beside them). With Bob, Jane, Tobby and Elvis joining in that order:

    (Bob, Jane)  (Jane, Bob)  (Jane, Tobby)  (Tobby, Jane)  (Tobby, Elvis)  (Elvis, Tobby)  (Elvis, Bob)

Newcomers come from the roster in the order they joined; once everyone has flown, whoever has
rested longest comes back first. People who are unavailable (away, opted out) are skipped, and
the pick says who was skipped and why.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Crew:
    pilot: str
    copilot: str


@dataclass(frozen=True)
class Skip:
    person: str
    why: str


@dataclass(frozen=True)
class Pick:
    crew: Crew
    kind: str  # first, swap, hand-over
    skipped: list[Skip] = field(default_factory=list)


class NoCrew(ValueError):
    pass


def acting_pilot(pilot: str | None, copilot: str | None, away: Collection[str]) -> str | None:
    """Who flies now: the pilot, or the co-pilot while the pilot is away (the co-pilot fills in when
    the pilot is absent; if both are away, the seat stays the pilot's)."""
    if pilot is not None and pilot in away and copilot is not None and copilot not in away:
        return copilot
    return pilot


def rested_order(roster: list[str], history: list[Crew]) -> list[str]:
    """The roster, those who never flew first (in join order), then whoever rested longest."""
    last_flown: dict[str, int] = {}
    for index, crew in enumerate(history):
        last_flown[crew.pilot] = last_flown[crew.copilot] = index
    return sorted(roster, key=lambda person: (last_flown.get(person, -1), roster.index(person)))


def next_crew(history: list[Crew], roster: list[str], unavailable: dict[str, str] | None = None) -> Pick:
    unavailable = unavailable or {}
    order = rested_order(roster, history)
    if not history:
        kind, pilots, copilots = "first", order, order
    else:
        last = history[-1]
        before = history[-2] if len(history) > 1 else None
        if before is not None and before.pilot == last.copilot:
            # Last time was a swap, so the hand-over is done: the pilot flies again with a newcomer.
            kind, pilots, copilots = "hand-over", [last.pilot, last.copilot, *order], order
        else:
            kind, pilots, copilots = "swap", [last.copilot, last.pilot, *order], [last.pilot, *order]
    skipped: list[Skip] = []
    pilot = _first_available(pilots, unavailable, skipped, exclude=set())
    try:
        copilot = _first_available(
            copilots, unavailable, skipped, exclude={pilot} | _rotating_out(history, kind, pilot)
        )
    except NoCrew:
        # Nobody else can fly: the co-pilot who just handed over stays on rather than no crew at all.
        copilot = _first_available(copilots, unavailable, skipped, exclude={pilot})
    return Pick(Crew(pilot, copilot), kind, skipped)


def _rotating_out(history: list[Crew], kind: str, pilot: str) -> set[str]:
    """After a swap, the co-pilot who just handed over is done; they come back only after a rest."""
    if kind == "hand-over" and history and history[-1].copilot != pilot:
        return {history[-1].copilot}
    return set()


def _first_available(candidates: list[str], unavailable: dict[str, str], skipped: list[Skip], exclude: set[str]) -> str:
    for person in dict.fromkeys(candidates):  # in order, each once
        if person in exclude:
            continue
        if person in unavailable:
            if all(s.person != person for s in skipped):
                skipped.append(Skip(person, unavailable[person]))
            continue
        return person
    raise NoCrew(
        "Not enough people are available for a crew: "
        + ("; ".join(f"{s.person} ({s.why})" for s in skipped) or "the roster needs at least two people")
        + "."
    )


def forecast(
    history: list[Crew], roster: list[str], count: int, unavailable: dict[str, str] | None = None
) -> list[Pick]:
    """The next `count` crews if nothing changes."""
    picks, future = [], list(history)
    for _ in range(count):
        try:
            pick = next_crew(future, roster, unavailable)
        except NoCrew:
            break
        picks.append(pick)
        future.append(pick.crew)
    return picks
