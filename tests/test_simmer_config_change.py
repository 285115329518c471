"""Tower restarts with another simmer config: each running simmer's next due moment follows the new
config at once, not only after the moment the old config had set."""

import asyncio
from datetime import timedelta

import pytest

from bot.app import open_tower
from commands.deploy import simmer_tick
from commands.engine.settings import Settings
from jobs.scheduler import Wakeups
from storage.queries import deploys
from tests.simmer_support import hours, simmering_tower

_YEAR, _TEN_MINUTES = timedelta(days=366), timedelta(minutes=10)


@pytest.fixture
async def simmering(tmp_path, db_target, clock):
    async with simmering_tower(tmp_path, db_target, clock) as tower:
        yield tower


def with_probe_interval(settings: Settings, minutes: int) -> Settings:
    data = settings.model_dump()
    data["projects"]["demo"]["probe"]["interval_minutes"] = minutes
    return Settings.model_validate(data)


async def simmer_row(tower):
    async with tower.services.db.read() as session:
        (row,) = [s for s, *_ in await deploys.due_simmers(session, tower.services.clock.now() + _YEAR)]
    return row


async def first_tick(tower) -> Wakeups:
    """The restarted Tower takes the scheduler, as `tower run` does on winning its lock."""
    wakeups = Wakeups(tower.services)
    wakeups.start(paused=True)
    wakeups.resume()
    for _ in range(200):
        if wakeups.last_tick is not None and not wakeups._busy:
            break
        await asyncio.sleep(0.05)
    return wakeups


async def test_a_shorter_probe_interval_is_followed_from_the_first_tick_after_a_restart(simmering, clock, db_target):
    await hours(simmering, clock, 1)  # sampled; with samples hourly, the next is an hour away
    before = await simmer_row(simmering)
    restarted = await open_tower(with_probe_interval(simmering.settings, 10), db_target.env(), clock=clock)
    try:
        clock.advance(minutes=20)
        reads = simmering.health.reads
        wakeups = await first_tick(restarted)
        await wakeups.shutdown()
        assert simmering.health.reads == reads + 1  # sampled now: 20 minutes since the last, every 10 wanted
        after = await simmer_row(restarted)
        assert after.sampled_at == clock.now() and after.sampled_at > before.sampled_at
        assert after.due_at == clock.now() + _TEN_MINUTES
    finally:
        await restarted.close()


async def test_a_restart_with_the_same_config_reschedules_nothing(simmering, clock, db_target):
    await hours(simmering, clock, 1)
    before = await simmer_row(simmering)
    restarted = await open_tower(simmering.settings, db_target.env(), clock=clock)
    try:
        clock.advance(minutes=20)
        assert await simmer_tick.recheck_due_moments(restarted.services) == 0
        reads = simmering.health.reads
        wakeups = await first_tick(restarted)
        await wakeups.shutdown()
        assert simmering.health.reads == reads  # not due: an hour between samples
        assert (await simmer_row(restarted)).due_at == before.due_at
    finally:
        await restarted.close()


def without_demo(settings: Settings) -> Settings:
    data = settings.model_dump()
    data["projects"] = {"other": {**data["projects"].pop("demo"), "key": "other"}}
    return Settings.model_validate(data)


async def test_a_simmer_whose_project_left_the_config_rests_until_the_project_is_back(simmering, clock, db_target):
    await hours(simmering, clock, 1)
    away = await open_tower(without_demo(simmering.settings), db_target.env(), clock=clock)
    try:
        clock.advance(hours=2)
        await simmer_tick.tick(away.services)
        async with away.services.db.read() as session:
            # Not read again at every tick: nothing can be judged or reported without its config.
            assert await deploys.due_simmers(session, clock.now() + timedelta(days=30)) == []
    finally:
        await away.close()
    back = await open_tower(simmering.settings, db_target.env(), clock=clock)
    try:
        reads = simmering.health.reads
        wakeups = await first_tick(back)
        await wakeups.shutdown()
        assert simmering.health.reads == reads + 1  # sampled again from the first tick it is configured
        assert (await simmer_row(back)).sampled_at == clock.now()
    finally:
        await back.close()
