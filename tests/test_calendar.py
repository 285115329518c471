"""The crew calendar: valid iCalendar, served over HTTP and written by `tower calendar`."""

from datetime import UTC

from aiohttp.test_utils import TestClient, TestServer

from bot.web import build_web_app
from commands.rules.ical import Event, calendar, escape, fold
from jobs.scheduler import Wakeups
from tests.shell_process import run_tower, tower_env
from tests.support import run


def test_text_is_escaped_and_long_lines_are_folded_by_octets():
    assert escape("a, b; c\\d\ne") == "a\\, b\\; c\\\\d\\ne"
    line = "DESCRIPTION:" + "é" * 60
    parts = fold(line)
    assert all(len(p.encode()) <= 75 for p in parts) and parts[1].startswith(" ")
    assert "".join(p[1:] if i else p for i, p in enumerate(parts)) == line


def test_a_calendar_has_crlf_lines_and_all_day_events():
    from datetime import date, datetime

    text = calendar(
        "Demo",
        [Event("u1", "demo 1.3.0: pilot bob", date(2026, 11, 21), date(2026, 11, 22))],
        datetime(2026, 11, 21, 9, tzinfo=UTC),
    )
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "DTSTART;VALUE=DATE:20261121\r\nDTEND;VALUE=DATE:20261122\r\n" in text
    assert "DTSTAMP:20261121T090000Z\r\n" in text and "\n" not in text.replace("\r\n", "")


async def test_crews_appear_as_events_and_are_served_over_http(tower):
    await run(tower, "/release new demo")
    await run(tower, "/rotation assign demo")
    async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
        response = await client.get("/calendar/demo.ics")
        text = await response.text()
        assert response.status == 200 and response.content_type == "text/calendar"
        missing = await client.get("/calendar/nope.ics")
        assert missing.status == 404
    assert "SUMMARY:demo#1: pilot bob\\, co-pilot jane\r\n" in text
    assert "DTSTART;VALUE=DATE:20261120\r\n" in text


def test_tower_calendar_writes_the_file(tmp_path):
    env = tower_env(tmp_path / "data")
    assert (
        run_tower(
            ["shell", "--as", "alice"], tmp_path, env, stdin="/release new demo\n/rotation assign demo\n"
        ).returncode
        == 0
    )
    result = run_tower(["calendar", "demo", "--output", "demo.ics"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "pilot bob" in (tmp_path / "demo.ics").read_text()
    unknown = run_tower(["calendar", "nope"], tmp_path, env)
    assert unknown.returncode == 2 and "unknown project 'nope'" in unknown.stderr
