"""A week's simmer under way: demo 1.3.0 deployed, its health probed hourly over HTTP."""

from contextlib import asynccontextmanager
from datetime import UTC, datetime

from commands.deploy import simmer_tick
from tests.deploy_support import ready_to_deploy, settle
from tests.fakes.health import FakeHealth
from tests.support import run

START = datetime(2026, 10, 22, 12, tzinfo=UTC)  # Thursday; Berlin leaves summer time on Sunday the 25th


def hourly_probe(url: str) -> dict:
    """A health endpoint's growing counter, read hourly; six hours without growth is a stall."""
    return {
        "kind": "http",
        "url": url,
        "json_path": "result.verified_layer",
        "expect": "advancing",
        "interval_minutes": 60,
        "stall_minutes": 360,
    }


@asynccontextmanager
async def simmering_tower(tmp_path, db_target, clock):
    async with FakeHealth(value=1000) as health:
        clock.set(START)
        tower = await ready_to_deploy(
            tmp_path,
            db_target,
            clock,
            timezone="Europe/Berlin",
            report_time="09:00",
            simmer_days=7,
            ci={"integrate_command": "echo integrated > integrated.txt"},
            probe=hourly_probe(health.url),
            channels={"team": ["console:team"], "announce": ["console:announce"]},
        )
        assert (await run(tower, "/deploy start demo")).ok
        await settle(tower)
        tower.health, tower.tmp = health, tmp_path
        try:
            yield tower
        finally:
            await tower.close()


async def hours(tower, clock, count: int, advancing: bool = True) -> None:
    for _ in range(count):
        clock.advance(hours=1)
        if advancing:
            tower.health.value += 10
        await simmer_tick.tick(tower.services)
