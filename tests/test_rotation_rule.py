"""The conda release-pilot rotation, as a pure rule."""

import pytest

from commands.rules.rotation import Crew, NoCrew, Skip, forecast, next_crew

ROSTER = ["bob", "jane", "tobby", "elvis"]


def test_the_proposals_table_for_five_releases():
    crews = [p.crew for p in forecast([], ROSTER, 5)]
    assert crews == [
        Crew("bob", "jane"),
        Crew("jane", "bob"),
        Crew("jane", "tobby"),
        Crew("tobby", "jane"),
        Crew("tobby", "elvis"),
    ]


def test_swaps_and_hand_overs_alternate():
    assert [p.kind for p in forecast([], ROSTER, 6)] == ["first", "swap", "hand-over", "swap", "hand-over", "swap"]


def test_when_the_roster_is_used_up_whoever_rested_longest_comes_back():
    crews = [p.crew for p in forecast([], ROSTER, 8)]
    assert crews[5:] == [Crew("elvis", "tobby"), Crew("elvis", "bob"), Crew("bob", "elvis")]


def test_an_away_newcomer_is_skipped_with_the_reason():
    history = [Crew("bob", "jane"), Crew("jane", "bob")]
    pick = next_crew(history, ROSTER, {"tobby": "away until 2026-12-01"})
    assert pick.crew == Crew("jane", "elvis")
    assert pick.skipped == [Skip("tobby", "away until 2026-12-01")]


def test_an_away_pilot_designate_is_replaced_by_the_experienced_co_pilot():
    history = [Crew("bob", "jane")]
    pick = next_crew(history, ROSTER, {"jane": "opted out"})
    assert pick.crew.pilot == "bob" and pick.crew.copilot == "tobby"
    assert pick.skipped == [Skip("jane", "opted out")]


def test_the_co_pilot_who_just_handed_over_rests_unless_nobody_else_can_fly():
    history = [Crew("bob", "jane"), Crew("jane", "bob")]
    assert next_crew(history, ["bob", "jane", "tobby"]).crew == Crew("jane", "tobby")
    stuck = next_crew(history, ["bob", "jane", "tobby"], {"tobby": "away"})
    assert stuck.crew == Crew("jane", "bob") and stuck.skipped == [Skip("tobby", "away")]


def test_too_few_people_is_refused_with_who_is_missing():
    with pytest.raises(NoCrew, match="tobby \\(away\\)"):
        next_crew([], ["bob", "tobby"], {"tobby": "away"})
    with pytest.raises(NoCrew, match="at least two"):
        next_crew([], ["bob"])
