"""One project's bad row never stops another's work: dates outside a sane horizon are refused at
input, and a scheduled step that fails for one project is logged and counted, while every other
project's steps still run."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, date, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.telemetry import Telemetry
from bot.web import Replica, build_web_app
from commands.engine.settings import Settings
from jobs.scheduler import Wakeups, due_work
from storage.queries import outbox, pages
from storage.tables import Milestone
from tests.shell_process import tower_command, tower_env
from tests.support import make_settings, run, snapshot


def two_project_settings(tmp_path) -> Settings:
    data = make_settings(tmp_path / "data").model_dump()
    demo = data["projects"]["demo"]
    data["projects"]["ny"] = {**demo, "key": "ny", "name": "Night Yard", "reminder_time": "09:00"}
    demo["reminder_time"] = "09:00"
    return Settings.model_validate(data)


@pytest.fixture
async def poisoned(tmp_path, db_target, clock):
    """demo has a reminder due and a page to escalate; ny has a milestone no calendar can hold
    (stored before Tower refused such dates at input: the tick's date window never reads it) and
    one due tomorrow under a name Tower cannot order (a bad row the tick does read)."""
    clock.set(datetime(2026, 11, 19, 12, tzinfo=UTC))
    tower = await open_tower(two_project_settings(tmp_path), db_target.env(), clock=clock)
    for text in ("/release new demo", "/rotation assign demo", "/release new ny", "/rotation assign ny"):
        assert (await run(tower, text)).ok, text
    assert (await run(tower, "/rc schedule demo rc1 2026-11-21")).ok
    assert (await run(tower, "/page demo the explorer is down")).ok
    async with tower.services.db.write() as session:
        session.add(Milestone(release_id=2, name="rc1", due=date(9999, 12, 31), created_at=clock.now()))
        session.add(Milestone(release_id=2, name="rc?", due=date(2026, 11, 21), created_at=clock.now()))
    clock.set(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))  # demo's reminder is due, so is the page's next step
    yield tower
    await tower.close()


async def test_a_bad_row_in_one_project_stops_no_other_projects_work(poisoned, caplog):
    with caplog.at_level(logging.ERROR):
        await due_work(poisoned.services)
    async with poisoned.services.db.read() as session:
        team = [r.payload for r in await outbox.all_for(session, "console:team")]
        (page,) = await pages.open_pages(session)
    assert any("Tomorrow: rc1 of demo#1 is due" in p for p in team)
    assert page.step == 1  # escalated past the pilot
    assert poisoned.services.failures.counts == {("reminders", "ny"): 1}
    assert any("reminders" in r.getMessage() and "ny" in r.getMessage() for r in caplog.records)


async def test_the_failure_is_counted_in_metrics(poisoned):
    await due_work(poisoned.services)
    telemetry = Telemetry(poisoned.services)
    replica = Replica(telemetry=telemetry)
    async with TestClient(TestServer(build_web_app(poisoned, Wakeups(poisoned.services), replica=replica))) as client:
        text = await (await client.get("/metrics")).text()
    assert 'tower_scheduled_step_failures_total{project="ny",step="reminders"} 1.0' in text


@pytest.mark.parametrize("day", ["9999-12-31", "2040-01-01"])
async def test_dates_beyond_the_horizon_are_refused_at_input(tower, day):
    assert (await run(tower, "/release new demo")).ok
    before = await snapshot(tower.services.db)
    reply = await run(tower, f"/rc schedule demo rc1 {day}")
    assert not reply.ok and "too far ahead" in reply.text, reply.text
    assert await snapshot(tower.services.db) == before


@pytest.mark.parametrize("when", ["9999-12-31 23:59", "0001-01-01 00:00", "2030-01-01 10:00"])
async def test_announcing_beyond_the_horizon_is_refused_not_an_internal_error(tower, when):
    assert (await run(tower, "/release new demo")).ok
    reply = await run(tower, f'/announce demo --at "{when}"')
    assert not reply.ok and "Something went wrong" not in reply.text and "incident" not in reply.text, reply.text
    assert "too far" in reply.text or "has passed" in reply.text


def test_the_shell_keeps_working_beside_a_bad_row(tmp_path):
    env = tower_env(tmp_path / "data")
    subprocess.run([*tower_command(), "shell", "--as", "alice", "-c", "/release new demo"], env=env, check=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "tower.db") as db:
        db.execute(
            "INSERT INTO milestone (release_id, name, due, created_at) VALUES (1, 'rc1', '9999-12-31', ?)",
            (datetime.now(UTC).isoformat(sep=" "),),
        )
    result = subprocess.run(
        [*tower_command(), "shell", "--as", "alice"],
        input="/release status demo\n/release list\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "demo#1: planning" in result.stdout


async def test_scheduled_writes_done_in_batches_fail_only_the_bad_rows_project(tower, clock):
    """The simmer tick writes 100 simmers per transaction; a batch that fails is redone one row at a
    time, so only the bad row's project fails (and stays due), the others' work is kept."""
    from commands.deploy.simmer_tick import _batched

    async def work(session, svc, item, now):
        if item == "bad":
            raise ValueError("a row no report can be made of")
        return item.upper()

    items = [("demo", "a"), ("ny", "bad"), ("demo", "b")]
    results = await _batched(tower.services, "simmer report", items, work, clock.now(), write=True)
    assert results == [(True, "A"), (False, None), (True, "B")]
    assert tower.services.failures.counts == {("simmer report", "ny"): 1}
