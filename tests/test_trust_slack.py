"""Slack requests heard twice — replayed by someone who captured one, or retried by Slack — are
answered and not run again, by whichever replica gets the repeat."""

from __future__ import annotations

import pytest

from storage.queries import pages, scope
from tests.fakes.slack_requests import block_action_body, post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.platform_harness import ALICE, SIGNING_SECRET, SLACK_TOKEN, TEAM, SlackSide, platform_settings, start_service
from tests.support import run

ALREADY = "Tower already took this request"


@pytest.fixture
async def two_replicas(tmp_path, db_target, clock):
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url.rstrip("/"),
        }
        first = await start_service(platform_settings(tmp_path / "data"), env, clock)
        second = await start_service(platform_settings(tmp_path / "data"), env, clock)
        try:
            for text in ("/release new demo", "/rotation assign demo"):
                assert (await run(first.tower, text)).ok
            yield SlackSide(fake, first), SlackSide(fake, second)
        finally:
            await second.stop()
            await first.stop()


def command_body(fake: FakeSlack, text: str, command: str = "/scope") -> tuple[str, str]:
    url = fake.new_response_url()
    return slash_command_body(command=command, text=text, user_id=ALICE, channel_id=TEAM, response_url=url), url


async def features(side: SlackSide) -> list[str]:
    async with side.service.tower.services.db.read() as session:
        return [f.title for f in await scope.features(session, 1)]


@pytest.mark.parametrize("retry_header", [False, True])
async def test_the_same_signed_command_twice_runs_once(two_replicas, retry_header):
    one, other = two_replicas
    body, url = command_body(one.fake, 'add demo "IP over libp2p" --tests T12')
    status, _, _ = await post_signed(one.events_url, SIGNING_SECRET, body)
    assert status == 200
    assert (await one.reply(url))["response_type"] == "in_channel"
    headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"} if retry_header else None
    for side in (one, other):  # the same replica, and another one on the same database
        status, _, _ = await post_signed(side.events_url, SIGNING_SECRET, body, headers=headers)
        assert status == 200
    answers = await one.fake.wait_for_response(url, count=3)
    repeats = [a for a in answers if ALREADY in a["text"]]
    assert len(repeats) == 2 and all(a["response_type"] == "ephemeral" for a in repeats), answers
    assert await features(one) == ["IP over libp2p"]


async def test_a_replayed_page_pages_once(two_replicas):
    one, other = two_replicas
    body, url = command_body(one.fake, "demo the explorer is down", command="/page")
    for side in (one, other, one):
        assert (await post_signed(side.events_url, SIGNING_SECRET, body))[0] == 200
    await one.fake.wait_for_response(url, count=3)
    async with one.service.tower.services.db.read() as session:
        assert len(await pages.of_release(session, 1)) == 1


async def test_a_replayed_button_click_runs_once(two_replicas):
    one, other = two_replicas
    url = one.fake.new_response_url()
    body = block_action_body(
        action_id="tower_run_0",
        value='/checklist add demo "Docs published"',
        user_id=ALICE,
        channel_id=TEAM,
        response_url=url,
    )
    for side in (one, other):
        assert (await post_signed(side.events_url, SIGNING_SECRET, body))[0] == 200
    answers = sorted(a["text"] for a in await one.fake.wait_for_response(url, count=2))
    assert answers[0].startswith("Added item") and answers[1].startswith(ALREADY), answers
    async with one.service.tower.services.db.read() as session:
        items = [i.text for i in await scope.checklist(session, 1)]
    assert items.count("Docs published") == 1
