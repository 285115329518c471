"""Daily simmer reports at scale: 1,000 releases simmering at once, all due for their morning
report at the same moment. Measured: wall time from the report moment until every report is
queued in the outbox by the scheduler's work function and delivered by the courier. Target:
under 2 minutes, each report queued and delivered exactly once.

    python -m bench.simmer_reports [--releases 1000] [--sender slack|memory]

1,000 projects are configured, each with an HTTP health probe on a local fake (hourly) and a team
channel of its own. Their releases, candidates, live deployments, simmers and two days of health
samples are written straight into the database with the storage queries, in one transaction, on a
fake clock a minute before the report time. Then, with the clock at the report time,
`jobs.scheduler.due_work` runs as the leader runs it each tick (the clock moving on by one tick
between runs) until every simmer's report for the day is in the outbox, and the courier drains the
outbox with no pacing. `--sender slack` (default) delivers to a fake Slack over HTTP with Tower's
Slack sender; `--sender memory` only records what it is given. Afterwards one more tick runs, to
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

from sqlalchemy import insert

from bench.pg_schema import URL_ENV, fresh_schema
from bot.app import Tower, open_tower
from bot.courier import Courier, Pace
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from commands.rules.lifecycle import Action, State
from commands.scope import readiness
from jobs.scheduler import due_work
from storage.queries import candidates, deploys, directory, outbox, releases
from storage.tables import HealthSample
from tests.fakes.clock import FakeClock
from tests.fakes.health import FakeHealth
from tests.fakes.slack_server import FakeSlack
from tests.support import make_settings

TARGET_S = 120.0
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


async def seed_one(session, tower: Tower, n: int, opened_by: int, started: datetime, samples: int) -> list[dict]:
    """One release, simmering since `started`; returns its health samples, for one bulk insert."""
    project = tower.settings.project(project_key(n))
    row = await directory.project_by_key(session, project.key)
    release = await releases.create(
        session,
        project_id=row.id,
        state=State.PLANNING.value,
        action=Action.OPEN.value,
        opened_by_id=opened_by,
        now=started - timedelta(days=3),
    )
    await readiness.ensure_checklist(session, project, release)
    cut = await candidates.add(
        session,
        release_id=release.id,
        kind="rc",
        tag="v1.3.0-rc1",
        rc=1,
        patch=None,
        build=None,
        notes=None,
        commit_sha=f"{n:040x}",
        created_by_id=opened_by,
        now=started - timedelta(hours=1),
    )
    await candidates.mark_cut(session, cut.id, cut.commit_sha)
    await releases.move(
        session,
        release,
        to_state=State.SIMMERING.value,
        action=Action.SMOKE_PASSED.value,
        actor_id=None,
        now=started,
        also={"version": "1.3.0", "scope_frozen_at": started - timedelta(hours=2)},
    )
    deployment = await deploys.add(
        session,
        release_id=release.id,
        candidate_id=cut.id,
        environment="production",
        operation_id=f"bench-deploy-{n}",
        state="live",
        created_at=started - timedelta(minutes=30),
        created_by_id=opened_by,
        finished_at=started,
    )
    simmer = await deploys.start_simmer(
        session,
        release_id=release.id,
        deployment_id=deployment.id,
        now=started,
        ends_at=started + timedelta(days=SIMMER_DAYS),
    )
    times = [started + PROBE_INTERVAL * (i + 1) for i in range(samples)]
    await deploys.set_simmer(
        session,
        simmer.id,
        "running",
        sampled_at=times[-1],
        best_value=1000.0 + 10 * (samples - 1),
        last_advance_at=times[-1],
    )
    return [
        {"simmer_id": simmer.id, "at": at, "value": 1000.0 + 10 * i, "ok": True, "detail": str(1000 + 10 * i)}
        for i, at in enumerate(times)
    ]


async def seed(tower: Tower, count: int) -> int:
    """`count` releases simmering since SIMMER_AGE before the report moment, sampled every hour
    until an hour before it (so the report tick samples each of them again). Returns samples written."""
    started = report_moment() - SIMMER_AGE
    samples = int((SIMMER_AGE - PROBE_INTERVAL) / PROBE_INTERVAL)
    rows: list[dict] = []
    async with tower.services.db.write() as session:
        alice = await directory.person_by_handle(session, "alice")
        for n in range(count):
            rows += await seed_one(session, tower, n, alice.id, started, samples)
        await session.exec(insert(HealthSample), params=rows)
    return len(rows)


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


def slack_keys(fake: FakeSlack) -> list[str]:
    """The outbox keys of the messages the fake Slack received (they travel as metadata)."""
    return [
        m["metadata"]["event_payload"]["key"] for posted in fake.messages.values() for m in posted if m.get("metadata")
    ]


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
async def delivery(kind: str) -> AsyncIterator[tuple[dict, FakeSlack | None, MemorySender | None]]:
    """The courier's senders: Tower's Slack sender against a fake Slack, or an in-memory one."""
    if kind == "memory":
        memory = MemorySender()
        yield {"console": memory}, None, memory
        return
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.platforms.slack import SlackSender, api_base_url

    async with FakeSlack(bot_token=TOKEN) as fake:
        client = AsyncWebClient(token=TOKEN, base_url=api_base_url(fake.api_url), retry_handlers=[])
        yield {"slack": SlackSender(client)}, fake, None


def check_rows(rows: list) -> tuple[int, int, int]:
    """(simmers with a report, surplus report rows, rows not marked sent once)."""
    per_simmer = Counter(simmer_of_key(r.key) for r in rows)
    not_once = sum(1 for r in rows if r.state != outbox.SENT or r.attempts != 1)
    return len(per_simmer), len(rows) - len(per_simmer), not_once


async def timed(work) -> float:
    began = time.perf_counter()
    await work
    return time.perf_counter() - began


async def run(args: argparse.Namespace, workdir: Path) -> dict:
    """Seed, tick to the report moment, queue and deliver; returns the figures."""
    clock = FakeClock(report_moment() - timedelta(minutes=1))
    async with (
        database_env() as (db_name, env),
        FakeHealth(value=HEALTH_VALUE) as health,
        delivery(args.sender) as (senders, fake, memory),
    ):
        settings = bench_settings(workdir / "data", args.releases, health.url, args.sender)
        began = time.perf_counter()
        tower = await open_tower(settings, env, clock=clock)
        try:
            f = {
                "database": db_name,
                "samples": await seed(tower, args.releases),
                "seed_s": time.perf_counter() - began,
            }
            f["early_tick_s"] = await timed(due_work(tower.services))  # a minute before: nothing is due yet
            f["early"] = len(await report_rows(tower))

            clock.set(report_moment())
            started = time.perf_counter()
            f["ticks"], f["queued"] = await queue_reports(tower, clock, args.releases)
            f["queued_s"] = time.perf_counter() - started
            f["probe_reads"] = health.reads
            courier = Courier(tower.services.db, clock, senders, pace={p: Pace(0.0) for p in senders})
            f["sent"] = await deliver(courier)
            f["total_s"] = time.perf_counter() - started

            clock.advance(seconds=settings.tower.tick_seconds)
            f["later_tick_s"] = await timed(due_work(tower.services))
            f["rows"] = await report_rows(tower)
            sent_keys = slack_keys(fake) if fake is not None else memory.keys
            f["report_keys"] = [k for k in sent_keys if ":report:" in k]
            return f
        finally:
            await tower.close()


def print_figures(args: argparse.Namespace, f: dict) -> None:
    with_report, surplus_rows, not_once = check_rows(f["rows"])
    keys = f["report_keys"]
    duplicates, delivered = len(keys) - len(set(keys)), len(set(keys))
    met = (
        f["total_s"] < TARGET_S
        and delivered == with_report == args.releases
        and not (duplicates or surplus_rows or not_once)
    )
    print(f"database: {f['database']}; sender: {args.sender}")
    print(f"seeded {args.releases} simmering releases, {f['samples']} health samples: {f['seed_s']:.1f} s (not timed)")
    print(f"a tick a minute before the report time: {f['early_tick_s']:.1f} s, reports queued: {f['early']}")
    print(f"releases:             {args.releases}")
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
    print(f"the next tick, with nothing left to queue: {f['later_tick_s']:.1f} s")


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--sender", choices=("slack", "memory"), default="slack")
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="tower-bench-") as workdir:
        figures = await run(args, Path(workdir))
    print_figures(args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
