"""Prometheus metrics for `/metrics`.

Counters and latency histograms are fed as commands finish; the gauges that describe shared state
(the outbox's depth, open pages) are read from the database at scrape time, so every replica
reports the same truth, and the process's own resources (`process_*`) come from /proc at scrape
time. Each Telemetry has its own registry: two Towers in one process (tests)
never mix their numbers.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST as CONTENT_TYPE  # noqa: F401  (re-exported for the web app)
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from commands.engine.dispatch import CommandRecord
from commands.engine.services import Services
from storage.queries import leadership, outbox, pages

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Telemetry:
    def __init__(self, services: Services):
        self.services = services
        self.registry = r = CollectorRegistry()
        # The standard process_*, python_gc_* and python_info series, for this process (the default
        # registry's collectors are process-wide globals, which a per-Tower registry leaves out).
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.commands = Counter(
            "tower_commands", "Commands run, by command and outcome", ["command", "platform", "outcome"], registry=r
        )
        self.latency = Histogram(
            "tower_command_seconds",
            "Time from a command's arrival to its reply",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.outbox = Gauge(
            "tower_outbox_pending", "Messages waiting to be delivered, per platform", ["platform"], registry=r
        )
        self.pages = Gauge("tower_pages", "Pages by state (open ones are waking someone)", ["state"], registry=r)
        self.leader = Gauge("tower_scheduler_leader", "1 on the replica that runs the scheduler", registry=r)
        self.lag = Gauge(
            "tower_scheduler_lag_seconds",
            "Seconds since the scheduler last looked for due work (on the leader; 0 elsewhere)",
            registry=r,
        )
        self.leader_seen = Gauge(
            "tower_scheduler_leader_seen_seconds",
            "Seconds since the scheduler's holder last wrote its heartbeat (database clock; alike on every replica)",
            registry=r,
        )
        self.no_leader = Gauge(
            "tower_scheduler_no_leader",
            "1 when no replica has held the scheduler lately (heartbeat older than a takeover takes, or none)",
            registry=r,
        )
        self.in_flight = Gauge("tower_commands_in_flight", "Commands acknowledged and still running", registry=r)
        self.up = Gauge("tower_database_up", "1 when the last scrape could read the database", registry=r)
        self.step_failures = Counter(
            "tower_scheduled_step_failures",
            "Scheduled steps that failed, by step and project (the other projects' steps went on)",
            ["step", "project"],
            registry=r,
        )
        self._failures_seen: dict[tuple[str, str], int] = {}

    def record_command(self, record: CommandRecord) -> None:
        self.commands.labels(record.command, record.platform, record.outcome).inc()
        self.latency.labels(record.platform).observe(record.seconds)

    async def render(self, *, is_leader: bool, last_tick_age: float | None, in_flight: int) -> bytes:
        self.leader.set(1 if is_leader else 0)
        self.lag.set(last_tick_age if is_leader and last_tick_age is not None else 0)
        self.in_flight.set(in_flight)
        for (step, project), count in self.services.failures.counts.items():
            seen = self._failures_seen.get((step, project), 0)
            if count > seen:
                self.step_failures.labels(step, project).inc(count - seen)
                self._failures_seen[(step, project)] = count
        try:
            async with asyncio.timeout(5):
                async with self.services.db.read() as session:
                    depths = await outbox.pending_by_platform(session)
                    by_state = await pages.count_by_state(session)
                    silent = await leadership.silent_for(session, "scheduler")
        except Exception:
            self.up.set(0)  # the counters still go out: a scrape must work while the database is down
        else:
            self.up.set(1)
            _set_all(self.outbox, depths, ("slack", "discord", "console"))
            _set_all(self.pages, by_state, ("open", "acknowledged", "resolved"))
            self.leader_seen.set(silent if silent is not None else float("inf"))
            bound = (
                leadership.stale_after(self.services.settings.tower.election_seconds)
                + self.services.settings.tower.election_seconds
            )
            self.no_leader.set(1 if silent is None or silent > bound else 0)
        return generate_latest(self.registry)


def _set_all(gauge: Gauge, values: dict[str, int], always: tuple[str, ...]) -> None:
    for label in {*always, *values}:
        gauge.labels(label).set(values.get(label, 0))
