"""Control characters are treated alike on SQLite and PostgreSQL and in every output format: a NUL
in a CI report no longer loses the report on PostgreSQL, and a changelog with a bell or an escape
sequence cannot break the feed, the pages or the calendar."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime

from aiohttp.test_utils import TestClient, TestServer

from bot.pages.feed import atom
from bot.web import build_web_app
from commands.rules.ical import Event, calendar
from jobs.scheduler import Wakeups
from storage.queries import deploys, pages
from tests.ci_callbacks import signed
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.release_repos import CHANGELOG, released_then, repo_settings
from tests.support import run

SECRET = "control-secret"
NASTY = "disk\x00full \x07bell \x1b[31mred\x1b[0m \ufffe"


async def test_a_nul_in_a_ci_report_fails_the_deploy_and_pages_on_both_databases(tmp_path, db_target, clock):
    from bot.app import open_tower

    async with FakeCIWebhook(SECRET) as receiver:
        settings, _ = repo_settings(
            tmp_path, checklist=[], ci={"provider": "webhook", "url": receiver.url, "secret_env": "CI_SECRET"}
        )
        tower = await open_tower(settings, {**db_target.env(), "CI_SECRET": SECRET}, clock=clock)
        try:
            for text in (
                "/release new demo",
                "/rotation assign demo",
                "/release name demo --yes",
                "/scope freeze demo",
                "/rc cut demo",
                "/deploy start demo",
            ):
                assert (await run(tower, text)).ok, text
            async with tower.services.db.read() as session:
                (deployment,) = await deploys.of_release(session, 1)
            event = {"operation_id": deployment.operation_id, "event": "deploy.failed", "detail": NASTY}
            async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
                response = await client.post(
                    "/hooks/ci", data=signed(event, SECRET)[0], headers=signed(event, SECRET)[1]
                )
                assert response.status == 200, await response.text()
            async with tower.services.db.read() as session:
                (failed,) = await deploys.of_release(session, 1)
                (page,) = await pages.open_pages(session)
            assert failed.state == "failed" and failed.failure.startswith("disk\ufffdfull")
            assert "\x00" not in failed.failure and "\x07" not in failed.failure and "\x1b" not in page.message
        finally:
            await tower.close()


def test_the_feed_stays_well_formed_xml():
    text = atom(
        [
            {
                "key": "announcement/1",
                "title": f"demo 1.3.0 {NASTY}",
                "text": f"Notes: {NASTY}",
                "at": datetime.now(UTC),
                "link": f"releases/demo/{NASTY}.html",
                "author": f"alice {NASTY}",
            }
        ],
        installation="0" * 32,
        self_url="https://tower.example.org/feed.xml",
        home_url="https://tower.example.org/index.html",
        updated=datetime.now(UTC),
    )
    root = ElementTree.fromstring(text.encode())
    content = "".join(root.itertext())
    assert "bell" in content and "red" in content
    assert not any(c in content for c in "\x00\x07\x1b\ufffe")


def test_the_calendar_holds_no_control_characters():
    stamp = datetime(2026, 11, 20, tzinfo=UTC)
    event = Event(uid="u@x", summary=f"pilot {NASTY}", start=date(2026, 12, 1), end=date(2026, 12, 2))
    ical = calendar("demo", [event], stamp)
    assert "pilot" in ical and not any(c in ical for c in "\x00\x07\x1b\ufffe")


async def test_a_changelog_with_control_characters_reaches_pages_and_feed_intact(tmp_path, db_target, clock):
    from bot.app import open_tower

    changelog = CHANGELOG.replace("- Pausing block production.", "- Pausing \x07block\x1b[1m production.")
    settings, _ = repo_settings(tmp_path, released_then(changelog), checklist=[], announce_webhooks=[])
    tower = await open_tower(settings, db_target.env(), clock=clock)
    try:
        for text in (
            "/release new demo",
            "/rotation assign demo",
            "/release name demo --yes",
            "/scope freeze demo",
            "/rc cut demo",
            "/announce demo",
        ):
            reply = await run(tower, text)
            assert reply.ok, (text, reply.text)
        async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
            page = await (await client.get("/releases/demo/1.3.0")).text()
            feed = await (await client.get("/feed.xml")).text()
            fetched_from = str(client.make_url("/feed.xml"))
        for text in (page, feed):
            assert "Pausing" in text and not any(c in text for c in "\x07\x1b")
        root = ElementTree.fromstring(feed.encode())
        # No public_url: the feed's links point where it was fetched from.
        links = {link.get("rel"): link.get("href") for link in root.findall("{http://www.w3.org/2005/Atom}link")}
        assert links["self"] == fetched_from
    finally:
        await tower.close()
