"""An operation's claim (naming a release, opening its issue, the integrate pipeline) is a lease on
real time: Tower's clock may run a week in a minute in a rehearsal, and a claim must not lapse
while the process that took it is still writing to the forge."""

import asyncio
from datetime import timedelta

from storage.queries import operations

KEY = "release:1:name"


async def claim(database, clock, lease: timedelta):
    async with database.write() as session:
        return await operations.start(
            session, key=KEY, kind="name", release_id=None, payload="{}", now=clock.now(), lease=lease
        )


async def test_a_claim_holds_for_its_lease_however_far_towers_clock_runs(database, clock):
    assert await claim(database, clock, timedelta(minutes=2)) is not None
    clock.advance(days=1)  # a rehearsal: a day of Tower's time in moments
    assert await claim(database, clock, timedelta(minutes=2)) is None  # still held: nobody names it twice


async def test_a_claim_left_behind_is_taken_once_its_lease_has_run_out(database, clock):
    assert await claim(database, clock, timedelta(seconds=0.2)) is not None  # and its process died
    assert await claim(database, clock, timedelta(seconds=0.2)) is None
    await asyncio.sleep(0.3)
    assert await claim(database, clock, timedelta(minutes=2)) is not None


async def test_a_finished_operation_is_never_claimed_again(database, clock):
    assert await claim(database, clock, timedelta(seconds=0.1)) is not None
    async with database.write() as session:
        await operations.finish(session, KEY, "{}", clock.now())
    await asyncio.sleep(0.2)
    assert await claim(database, clock, timedelta(minutes=2)) is None
