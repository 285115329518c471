"""/scope: features with acceptance tests, the freeze and its overrides, results per candidate."""

import pytest

from bot.app import open_tower
from storage.queries import audit
from tests.release_repos import repo_settings
from tests.support import run, snapshot


@pytest.fixture
async def named(tmp_path, db_target, clock):
    settings, _ = repo_settings(tmp_path, checklist=[])
    tower = await open_tower(settings, db_target.env(), clock=clock)
    for text in ("/release new demo", "/rotation assign demo", "/release name demo --yes"):
        assert (await run(tower, text)).ok
    yield tower
    await tower.close()


async def test_features_carry_their_tests_and_are_listed(named):
    added = await run(named, '/scope add demo "IP over libp2p" --tests T12,T13')
    assert added.text == "Added feature #1 to demo 1.3.0: IP over libp2p"
    await run(named, '/scope add demo "Release pages"')
    listing = await run(named, "/scope list demo")
    assert listing.text == "Scope of demo 1.3.0 (open; no candidate yet):"
    assert listing.sections[0].splitlines() == [
        "#1 IP over libp2p — untested (T12 —, T13 —)",
        "#2 Release pages — untested (no tests)",
    ]


async def test_cutting_needs_a_frozen_scope_and_says_so(named):
    before = await snapshot(named.services.db)
    refused = await run(named, "/rc cut demo")
    assert not refused.ok
    assert refused.text.startswith("Not ready for cutting a candidate: 2. Scope frozen (Tower ticks this itself).")
    assert await snapshot(named.services.db) == before
    assert (await run(named, "/scope freeze demo", as_="bob")).ok  # bob is the pilot
    assert (await run(named, "/rc cut demo")).ok


async def test_after_the_freeze_changes_need_the_pilot_and_a_recorded_reason(named):
    await run(named, '/scope add demo "IP over libp2p" --tests T12')
    await run(named, "/scope freeze demo")
    before = await snapshot(named.services.db)
    plain = await run(named, '/scope add demo "Late idea"', as_="jane")
    assert (
        not plain.ok and "The scope is frozen: adding a feature needs the pilot and `--override REASON`" in plain.text
    )
    copilot = await run(named, '/scope add demo "Late idea" --override "security fix"', as_="jane")
    assert not copilot.ok and "Only the pilot or release managers may change a frozen scope." in copilot.text
    assert await snapshot(named.services.db) == before
    pilot = await run(named, '/scope add demo "CVE fix" --tests T99 --override "security fix"', as_="bob")
    assert pilot.ok and {f.label: f.value for f in pilot.fields}["Override"] == "security fix"
    async with named.services.db.read() as s:
        entry = (await audit.entries(s))[-1]
    assert (entry.action, entry.actor, entry.detail) == ("scope.add", "bob", "#2 CVE fix; override: security fix")
    listing = (await run(named, "/scope list demo")).sections[0]
    assert "#2 CVE fix — untested (T99 —) — added after the freeze: security fix" in listing
    removed = await run(named, '/scope remove demo 1 --reason slipped --override "not ready"', as_="bob")
    assert removed.ok and "~#1 IP over libp2p~ removed (slipped)" in (await run(named, "/scope list demo")).sections[0]


async def test_unfreezing_reopens_the_scope(named):
    await run(named, "/scope freeze demo")
    reopened = await run(named, '/scope unfreeze demo --reason "one more fix"')
    assert reopened.text == "Reopened the scope of demo 1.3.0: one more fix"
    assert (await run(named, '/scope add demo "One more fix"', as_="jane")).ok
    assert (await run(named, "/release status demo")).text == "demo 1.3.0: named"


async def test_results_per_candidate_make_features_ready_or_failing(named):
    await run(named, '/scope add demo "IP over libp2p" --tests T12,T13')
    await run(named, "/scope freeze demo")
    await run(named, "/rc cut demo")
    assert (await run(named, "/scope result demo T12 pass")).text == "Recorded T12: pass on v1.3.0-rc1."
    await run(named, "/scope result demo T13 fail --candidate v1.3.0-rc1")
    assert "#1 IP over libp2p — failing (T12 pass, T13 fail)" in (await run(named, "/scope list demo")).sections[0]
    await run(named, "/rc cut demo --again")  # a new candidate starts untested
    listing = await run(named, "/scope list demo")
    assert listing.text.endswith("results for v1.3.0-rc2):") and "untested" in listing.sections[0]
    await run(named, "/scope result demo T12 pass")
    await run(named, "/scope result demo T13 pass")
    assert "#1 IP over libp2p — ready (T12 pass, T13 pass)" in (await run(named, "/scope list demo")).sections[0]


async def test_bad_results_are_refused(named):
    await run(named, '/scope add demo "A" --tests T1')
    no_candidate = await run(named, "/scope result demo T1 pass")
    assert not no_candidate.ok and "has no candidate yet" in no_candidate.text
    await run(named, "/scope freeze demo")
    await run(named, "/rc cut demo")
    unknown = await run(named, "/scope result demo T7 pass")
    assert not unknown.ok and unknown.text == "No feature of demo 1.3.0 lists the test `T7`. Known tests: T1."
    maybe = await run(named, "/scope result demo T1 maybe")
    assert not maybe.ok and "is not one of pass, fail" in maybe.text


@pytest.mark.parametrize("written", ['"AT-1 AT-2"', "AT-1,AT-2", '"AT-1, AT-2"'])
async def test_tests_are_separated_by_spaces_or_commas(named, written):
    added = await run(named, f'/scope add demo "Sharding" --tests {written}')
    assert {f.label: f.value for f in added.fields}["Acceptance tests"] == "AT-1, AT-2"
    assert (await run(named, "/scope list demo")).sections[0] == "#1 Sharding — untested (AT-1 —, AT-2 —)"


async def test_the_status_counts_features_in_words(named):
    await run(named, '/scope add demo "Sharding" --tests AT-1')
    status = {f.label: f.value for f in (await run(named, "/release status demo")).fields}
    assert status["Scope"] == "1 feature, open"
