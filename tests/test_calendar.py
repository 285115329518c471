"""The crew calendar: valid iCalendar, served over HTTP and written by `tower calendar`."""

from datetime import UTC, date, datetime

import icalendar
from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.web import build_web_app
from commands.crew.calendar import project_calendar
from commands.rules.ical import Event, calendar, escape, fold
from jobs.scheduler import Wakeups
from tests.release_repos import repo_settings
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


def events_of(text: str) -> dict[str, icalendar.Event]:
    """The feed read by an independent parser; it must hold, and every UID be unique."""
    parsed = icalendar.Calendar.from_ical(text)
    events = list(parsed.walk("VEVENT"))
    uids = [str(e["UID"]) for e in events]
    assert len(uids) == len(set(uids))
    for event in events:
        assert event.get("DTSTAMP") is not None and event.get("DTSTART") is not None
    return {str(e["SUMMARY"]): e for e in events}


async def test_a_shipped_crews_duty_ends_with_the_all_clear_and_milestones_are_events(tmp_path, db_target, clock):
    settings, _ = repo_settings(tmp_path, checklist=[], ci=None)
    clock.set(datetime(2026, 11, 23, 9, tzinfo=UTC))  # a Monday
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        for text in ("/release new demo", "/rotation assign demo", "/release name demo --yes"):
            assert (await run(tower, text)).ok
        assert (await run(tower, "/rc schedule demo rc1 2026-11-24")).ok
        assert (await run(tower, "/rc schedule demo final 2026-11-26")).ok
        for text in ("/scope freeze demo", "/rc cut demo"):
            assert (await run(tower, text)).ok
        clock.set(datetime(2026, 11, 26, 10, tzinfo=UTC))
        assert (await run(tower, "/release ship demo", as_="bob")).ok
        assert (await run(tower, "/release new demo")).ok
        assert (await run(tower, "/rotation assign demo")).ok
        clock.set(datetime(2027, 1, 10, 9, tzinfo=UTC))  # weeks later
        events = events_of(await project_calendar(tower.services, settings.projects["demo"]))
    finally:
        await tower.close()
    shipped = events["demo 1.3.0: pilot bob, co-pilot jane"]
    # shipped Thursday 10:00, all clear two days later (Saturday): the duty's last day is Saturday
    assert shipped.decoded("DTSTART") == date(2026, 11, 23) and shipped.decoded("DTEND") == date(2026, 11, 29)
    assert "accountable until the all-clear, 2026-11-28 10:00 UTC" in str(shipped["DESCRIPTION"])
    rc1 = events["demo 1.3.0: rc1 due"]
    assert rc1.decoded("DTSTART") == date(2026, 11, 24) and rc1.decoded("DTEND") == date(2026, 11, 25)
    assert "demo 1.3.0: final due" in events
    following = events["demo#2: pilot jane, co-pilot bob"]
    assert following.decoded("DTSTART") == date(2026, 11, 26)


async def test_uids_differ_between_installations(tower, tmp_path, settings, clock):
    other = await open_tower(
        settings, {"TOWER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"}, clock=clock
    )
    try:
        uids = []
        for each in (tower, other):
            await run(each, "/release new demo")
            await run(each, "/rotation assign demo")
            (event,) = events_of(await project_calendar(each.services, settings.projects["demo"])).values()
            uids.append(str(event["UID"]))
    finally:
        await other.close()
    assert uids[0] != uids[1] and all(uid.startswith("demo-release-1-crew@") for uid in uids)
