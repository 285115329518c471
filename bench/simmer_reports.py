"""Daily simmer reports at scale: 1,000 and 10,000 releases simmering at once, all due for their
morning report at the same moment. Measured: what a tick with nothing due costs (a minute before
the report moment, and again after the reports), and the wall time from the report moment until
every report is queued in the outbox by the scheduler's work function and delivered by the
courier. Targets: a tick with nothing due within 0.5 s at 10,000 releases; every report delivered
exactly once within 5 minutes at 10,000.

    python -m bench.simmer_reports [--releases 1000 10000] [--sender slack|memory]

1,000 projects are configured, each with an HTTP health probe on a local fake (hourly) and a team
channel of its own. Their releases, candidates, live deployments, simmers and two days of health
samples are written straight into the database in bulk (bench/simmer_seed.py), in one
transaction, on a fake clock a minute before the report time. Then, with the clock at the report time,
`jobs.scheduler.due_work` runs as the leader runs it each tick (the clock moving on by one tick
between runs) until every simmer's report for the day is in the outbox, and the courier drains the
outbox with no pacing, taking its claims as `tower run` does (on PostgreSQL, on a session it
keeps). `--sender slack` (default) delivers to a fake Slack over HTTP with Tower's Slack sender;
`--sender memory` only records what it is given. The fake health endpoint and the fake Slack each
run in a child process, so what answering costs is not counted as Tower's (a real deployment and
Slack answer from elsewhere). Afterwards one more tick runs, to
show it queues nothing again, and what such a tick costs for the rest of the day.

SQLite in a temporary directory by default; with TOWER_BENCH_DATABASE_URL set, a fresh schema
in that PostgreSQL database (dropped at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path

from bench import simmer_seed
from bench.fake_health_process import FakeHealthClient
from bench.fake_slack_process import FakeSlackClient
from bench.pg_schema import URL_ENV, fresh_schema
from bot.app import Tower, open_tower
from bot.courier import Courier, Pace
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from jobs.scheduler import due_work
from storage.queries import outbox
from tests.fakes.clock import FakeClock
from tests.support import make_settings

TARGET_S = 300.0  # at 10,000 releases
TICK_TARGET_S = 0.5  # a tick with nothing due, at 10,000
REPORT_DAY = date(2026, 11, 18)
REPORT_TIME = "09:00"
SIMMER_DAYS = 7
SIMMER_AGE = timedelta(days=2)  # simmers began two days before the report day's report time
PROBE_INTERVAL = timedelta(hours=1)
HEALTH_VALUE = 1_000_000  # what the fake probe answers: above every seeded sample, so all stay healthy
MAX_TICKS = 20
TOKEN = "xoxb-test-token"


# -- configuration ----------------------------------------------------------------------------


def project_key(n: int) -> str:
    return f"svc{n:04d}"


def team_channel(n: int, sender: str) -> str:
    return f"slack:C{n:08d}" if sender == "slack" else f"console:team-{n:04d}"


def bench_settings(data_dir: Path, count: int, probe_url: str, sender: str) -> Settings:
    """The demo team, and `count` projects shaped like the demo with a probe and a channel each."""
    base = make_settings(data_dir).model_dump()
    demo = base["projects"]["demo"]
    probe = {
        "kind": "http",
        "url": probe_url,
        "json_path": "result.verified_layer",
        "expect": "advancing",
        "interval_minutes": int(PROBE_INTERVAL.total_seconds() // 60),
        "stall_minutes": 360,
    }
    projects = {
        project_key(n): {
            **demo,
            "key": project_key(n),
            "name": f"Service {n}",
            "repository": str(data_dir / "repo.git"),
            "timezone": "UTC",
            "report_time": REPORT_TIME,
            "simmer_days": SIMMER_DAYS,
            "probe": probe,
            "ci": {"provider": "local", "command": "true"},
            "channels": {"team": [team_channel(n, sender)], "announce": []},
        }
        for n in range(count)
    }
    return make_settings(data_dir, projects=projects)


def report_moment() -> datetime:
    return datetime.combine(REPORT_DAY, day_time.fromisoformat(REPORT_TIME), tzinfo=UTC)


# -- the simmering releases, written directly -------------------------------------------------


async def seed(tower: Tower, count: int) -> int:
    """`count` releases simmering since SIMMER_AGE before the report moment, sampled every hour
    until an hour before it (so the report tick samples each of them again), their next due moment
    the report moment. Returns samples written."""
    started = report_moment() - SIMMER_AGE
    return await simmer_seed.seed(
        tower.services.db,
        tower.settings,
        [project_key(n) for n in range(count)],
        started=started,
        days=SIMMER_DAYS,
        interval=PROBE_INTERVAL,
        samples=int((SIMMER_AGE - PROBE_INTERVAL) / PROBE_INTERVAL),
        due_at=report_moment(),
    )


# -- counting ---------------------------------------------------------------------------------


async def report_rows(tower: Tower) -> list:
    async with tower.services.db.read() as session:
        return [r for r in await outbox.with_key_prefix(session, "simmer:") if ":report:" in r.key]


def simmer_of_key(key: str) -> str:
    return key.split(":")[1]


class MemorySender:
    """Records what the courier gives it; sends nothing anywhere."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        self.keys.append(key)
        return key

    async def find(self, channel_id: str, key: str, since: datetime) -> str | None:
        return None


# -- the run ----------------------------------------------------------------------------------


async def queue_reports(tower: Tower, clock: FakeClock, count: int) -> tuple[int, int]:
    """Tick as the leader does until `count` reports are queued. Returns (ticks, reports queued)."""
    step = tower.settings.tower.tick_seconds
    for ticks in range(1, MAX_TICKS + 1):
        await due_work(tower.services)
        queued = len(await report_rows(tower))
        if queued >= count:
            return ticks, queued
        clock.advance(seconds=step)
    return MAX_TICKS, queued


async def deliver(courier: Courier) -> int:
    delivered = 0
    while sent := await courier.drain():
        delivered += sent
    return delivered


@asynccontextmanager
async def database_env() -> AsyncIterator[tuple[str, dict[str, str]]]:
    url = os.environ.get(URL_ENV)
    if not url:
        yield "SQLite", {}
        return
    async with fresh_schema(url) as env:
        yield "PostgreSQL", env


@asynccontextmanager
async def delivery(kind: str) -> AsyncIterator[tuple[dict, FakeSlackClient | None, MemorySender | None]]:
    """The courier's senders: Tower's Slack sender against a fake Slack, or an in-memory one."""
    if kind == "memory":
        memory = MemorySender()
        yield {"console": memory}, None, memory
        return
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.platforms.slack import SlackSender, api_base_url

    fake = await FakeSlackClient.start(TOKEN)
    try:
        client = AsyncWebClient(token=TOKEN, base_url=api_base_url(fake.api_url), retry_handlers=[])
        yield {"slack": SlackSender(client)}, fake, None
    finally:
        await fake.stop()


@asynccontextmanager
async def health_endpoint() -> AsyncIterator[FakeHealthClient]:
    health = await FakeHealthClient.start(HEALTH_VALUE)
    try:
        yield health
    finally:
        await health.stop()


def check_rows(rows: list) -> tuple[int, int, int]:
    """(simmers with a report, surplus report rows, rows not marked sent once)."""
    per_simmer = Counter(simmer_of_key(r.key) for r in rows)
    not_once = sum(1 for r in rows if r.state != outbox.SENT or r.attempts != 1)
    return len(per_simmer), len(rows) - len(per_simmer), not_once


async def timed(work) -> float:
    began = time.perf_counter()
    await work
    return time.perf_counter() - began


async def run(args: argparse.Namespace, count: int, workdir: Path) -> dict:
    """Seed `count` releases, tick to the report moment, queue and deliver; returns the figures."""
    clock = FakeClock(report_moment() - timedelta(minutes=1))
    async with (
        database_env() as (db_name, env),
        health_endpoint() as health,
        delivery(args.sender) as (senders, fake, memory),
    ):
        settings = bench_settings(workdir / "data", count, health.url, args.sender)
        began = time.perf_counter()
        tower = await open_tower(settings, env, clock=clock)
        try:
            f = {
                "database": db_name,
                "samples": await seed(tower, count),
                "seed_s": time.perf_counter() - began,
            }
            f["early_tick_s"] = await timed(due_work(tower.services))  # a minute before: nothing is due yet
            f["early"] = len(await report_rows(tower))

            clock.set(report_moment())
            started = time.perf_counter()
            f["ticks"], f["queued"] = await queue_reports(tower, clock, count)
            f["queued_s"] = time.perf_counter() - started
            f["probe_reads"] = await health.reads()
            # As `tower run` has it: on PostgreSQL, claims are taken on a session the courier keeps.
            courier = Courier(tower.services.db, clock, senders, pace={p: Pace(0.0) for p in senders}, own_session=True)
            try:
                f["sent"] = await deliver(courier)
            finally:
                await courier.stop()
            f["total_s"] = time.perf_counter() - started

            clock.advance(seconds=settings.tower.tick_seconds)
            f["later_tick_s"] = await timed(due_work(tower.services))
            f["rows"] = await report_rows(tower)
            sent_keys = await fake.keys() if fake is not None else (memory.keys if memory else [])
            f["report_keys"] = [k for k in sent_keys if ":report:" in k]
            return f
        finally:
            await tower.close()


def print_figures(args: argparse.Namespace, count: int, f: dict) -> None:
    with_report, surplus_rows, not_once = check_rows(f["rows"])
    keys = f["report_keys"]
    duplicates, delivered = len(keys) - len(set(keys)), len(set(keys))
    met = f["total_s"] < TARGET_S and delivered == with_report == count and not (duplicates or surplus_rows or not_once)
    print(f"database: {f['database']}; sender: {args.sender}")
    print(f"seeded {count} simmering releases, {f['samples']} health samples: {f['seed_s']:.1f} s (not timed)")
    print(
        f"a tick with nothing due, a minute before the report time: {f['early_tick_s']:.3f} s "
        f"(target <= {TICK_TARGET_S} s at 10,000: {'met' if f['early_tick_s'] <= TICK_TARGET_S else 'MISSED'}), "
        f"reports queued: {f['early']}"
    )
    print(f"releases:             {count}")
    print(
        f"reports queued:       {f['queued']} in {f['ticks']} tick(s), {f['queued_s']:.1f} s "
        f"({f['probe_reads']} probe reads)"
    )
    print(f"reports delivered:    {delivered} (the courier sent {f['sent']} messages)")
    print(
        f"report rows:          {len(f['rows'])} for {with_report} simmers; surplus {surplus_rows}; "
        f"not sent exactly once {not_once}"
    )
    print(f"duplicates delivered: {duplicates}")
    print(
        f"total seconds, report moment to all delivered: {f['total_s']:.1f} "
        f"(queueing {f['queued_s']:.1f}, delivering {f['total_s'] - f['queued_s']:.1f})"
    )
    print(f"target: every report delivered once within {TARGET_S:.0f} s: {'met' if met else 'MISSED'}")
    print(f"the next tick, with nothing left to queue: {f['later_tick_s']:.3f} s")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--sender", choices=("slack", "memory"), default="slack")
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    for count in args.releases:
        with tempfile.TemporaryDirectory(prefix="tower-bench-") as workdir:
            figures = await run(args, count, Path(workdir))
        print_figures(args, count, figures)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
