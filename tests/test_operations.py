"""What operators see: one structured log line per command (never its text), Prometheus metrics,
and probes that tell a load balancer when to send traffic and when to stop."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC
from pathlib import Path

import httpx
import pytest

from bot.app import open_tower
from bot.config import ChatEnvironment
from bot.logs import JsonLines
from bot.service import Service
from commands.engine.context import Caller
from tests.support import make_settings


@pytest.fixture
async def service(tmp_path, db_target, clock):
    settings = make_settings(tmp_path / "data", tower={"http_port": 0, "drain_seconds": 0.6, "tick_seconds": 0.2})
    tower = await open_tower(settings, db_target.env(), clock=clock)
    svc = Service(tower, ChatEnvironment.read({}, settings), {})
    await svc.start()
    try:
        yield svc
    finally:
        if not svc.replica.draining:
            await svc.stop()


def _sample(metrics: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in metrics.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        metric, _, found = key.partition("{")
        found = ",".join(sorted(found.rstrip("}").split(","))) if found else ""
        if metric == name and found == want:
            return float(value)
    raise AssertionError(f"{name}{{{want}}} not in /metrics")


async def test_each_command_is_one_structured_log_line_without_what_was_typed(service, caplog):
    caplog.set_level(logging.INFO, logger="tower.commands")
    run = service.tower.dispatcher.run
    await run("/release new demo", Caller("console", "alice"))
    await run("/page demo the password is hunter2", Caller("console", "nobody-known"))
    await run("/release frobnicate demo", Caller("slack", "U0STRANGER"))
    lines = [json.loads(JsonLines().format(r)) for r in caplog.records if r.name == "tower.commands"]
    assert [(line["command"], line["actor"], line["outcome"]) for line in lines] == [
        ("/release new", "alice", "ok"),
        ("/page", "console:nobody-known", "refused"),
        ("?", "slack:U0STRANGER", "refused"),
    ]
    assert all(line["ms"] >= 0 and line["level"] == "info" and line["platform"] for line in lines)
    assert "hunter2" not in caplog.text


async def test_metrics_count_commands_by_outcome_and_show_queues_and_pages(service):
    run = service.tower.dispatcher.run
    await run("/release new demo", Caller("console", "alice"))
    await run("/release new nosuchproject", Caller("console", "alice"))
    await run("/page demo the database is down", Caller("console", "alice"))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _sample(text, "tower_commands_total", command="/release new", platform="console", outcome="ok") == 1
    assert _sample(text, "tower_commands_total", command="/release new", platform="console", outcome="refused") == 1
    assert _sample(text, "tower_command_seconds_count", platform="console") == 3
    assert _sample(text, "tower_pages", state="open") == 1
    assert _sample(text, "tower_outbox_pending", platform="console") >= 1  # the team hears of the release and page
    assert _sample(text, "tower_scheduler_leader") == 1 and _sample(text, "tower_database_up") == 1
    assert 0 <= _sample(text, "tower_scheduler_lag_seconds") < 60


async def test_metrics_say_when_no_replica_has_led_the_scheduler_lately(service):
    from datetime import datetime, timedelta

    from sqlalchemy import update

    from storage.tables import LeaderHeartbeat

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        text = (await http.get("/metrics")).text
        assert _sample(text, "tower_scheduler_no_leader") == 0
        assert 0 <= _sample(text, "tower_scheduler_leader_seen_seconds") < 30
        await service.leadership.stop()  # the leader goes, and no other replica takes over for an hour
        async with service.tower.services.db.write() as session:
            await session.exec(update(LeaderHeartbeat).values(seen_at=datetime.now(UTC) - timedelta(hours=1)))
        text = (await http.get("/metrics")).text
    assert _sample(text, "tower_scheduler_no_leader") == 1
    assert _sample(text, "tower_scheduler_leader_seen_seconds") >= 3600


async def test_metrics_parse_as_prometheus_text_and_show_this_process(service):
    """Prometheus's own parser reads every line; the process_* series describe this very process."""
    from prometheus_client.parser import text_string_to_metric_families

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        text = (await http.get("/metrics")).text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds",
        "process_open_fds",
        "process_start_time_seconds",
    ):
        assert name in families, f"{name} missing from /metrics"
    rss = families["process_resident_memory_bytes"].samples[0].value
    status = Path("/proc/self/status").read_text().splitlines()
    vm_rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
    assert 0.5 * vm_rss < rss < 2 * vm_rss  # the test process serves /metrics: the same process
    assert families["process_open_fds"].samples[0].value >= 3
    assert families["process_cpu_seconds"].samples[0].value > 0
    assert "tower_commands" in families and "python_info" in families


async def test_readyz_turns_away_traffic_while_shutting_down(service):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.port}") as http:
        assert (await http.get("/readyz")).json() == {"status": "ready"}
        stopping = asyncio.create_task(service.stop())
        await asyncio.sleep(0.2)  # inside the drain grace: still listening, no longer ready
        response = await http.get("/readyz")
        assert response.status_code == 503 and response.json() == {"status": "draining"}
        await stopping
        with pytest.raises(httpx.ConnectError):
            await http.get("/readyz")


async def test_a_rehearsal_clock_is_shared_by_processes_and_a_bad_one_stops_start_up(tmp_path):
    from datetime import datetime, timedelta

    from bot.app import StartupError
    from bot.integrations.clock import clock_from_env

    anchor = time.time() - 1  # a real second ago: an hour of rehearsal time
    clock = clock_from_env({"TOWER_REHEARSAL_CLOCK": f"2026-11-02T10:00:00+00:00 {anchor} 3600"})
    clock_b = clock_from_env({"TOWER_REHEARSAL_CLOCK": f"2026-11-02T10:00:00+00:00 {anchor} 3600"})
    assert abs((clock.now() - clock_b.now()).total_seconds()) < 3600  # within a real second of each other
    assert clock.now() - datetime(2026, 11, 2, 10, tzinfo=UTC) >= timedelta(hours=1)
    with pytest.raises(StartupError, match="TOWER_REHEARSAL_CLOCK must be 'START ANCHOR RATE'"):
        await open_tower(make_settings(tmp_path / "data"), {"TOWER_REHEARSAL_CLOCK": "tomorrow, fast"})
