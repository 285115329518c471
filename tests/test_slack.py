"""The Slack adapter end to end: signed HTTP requests in, Web API and response_url calls out,
against a local fake Slack, through Tower's real service."""

import asyncio
import json
import time

import pytest

from storage.queries import audit, outbox
from tests.fakes.slack_server import FakeSlack
from tests.platform_harness import (
    ALICE,
    BOB,
    OTHER,
    SIGNING_SECRET,
    SLACK_TOKEN,
    TEAM,
    SlackSide,
    block_texts,
    headline,
    platform_settings,
    start_service,
)
from tests.support import snapshot


@pytest.fixture
async def slack(tmp_path, db_target, clock):
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url.rstrip("/"),
        }
        service = await start_service(platform_settings(tmp_path / "data"), env, clock)
        try:
            yield SlackSide(fake, service)
        finally:
            await service.stop()


def db(slack):
    return slack.service.tower.services.db


async def test_a_slash_command_is_acked_at_once_and_answered_in_the_channel(slack):
    started = time.monotonic()
    status, body, url = await slack.command("new demo")
    assert status == 200 and body == "" and time.monotonic() - started < 3
    answer = await slack.reply(url)
    assert answer["response_type"] == "in_channel"
    assert headline(answer) == "Opened demo#1 (planning)."
    assert answer["text"] == "Opened demo#1 (planning)."
    async with db(slack).read() as s:
        (entry,) = await audit.entries(s)
    assert (entry.actor, entry.platform, entry.channel, entry.command) == (
        "alice",
        "slack",
        f"slack:{TEAM}",
        "/release new demo",
    )


async def test_the_other_team_channels_are_told_once(slack):
    _, _, url = await slack.command("new demo")
    await slack.reply(url)
    call = await slack.fake.wait_for_call("chat.postMessage")
    assert call.params["channel"] == OTHER
    assert "Alice opened demo#1 (planning)." in call.params["text"]
    await asyncio.sleep(0.3)
    assert [c.params["channel"] for c in slack.fake.calls_to("chat.postMessage")] == [
        OTHER
    ]  # not TEAM, where it was typed


async def test_reads_are_answered_privately(slack):
    await slack.reply((await slack.command("new demo"))[2])
    _, _, url = await slack.command("status demo", user=BOB)
    answer = await slack.reply(url)
    assert answer["response_type"] == "ephemeral" and headline(answer) == "demo#1: planning"


@pytest.mark.parametrize("problem", ["bad signature", "stale timestamp"])
async def test_forged_or_replayed_requests_get_401_and_change_nothing(slack, problem):
    before = await snapshot(db(slack))
    kwargs = {"secret": "not-the-secret"} if problem == "bad signature" else {"timestamp": int(time.time()) - 6 * 60}
    status, _, url = await slack.command("new demo", **kwargs)
    assert status == 401
    await asyncio.sleep(0.2)
    assert slack.fake.responses.get(slack.fake.response_id(url), []) == []
    assert await snapshot(db(slack)) == before


async def test_a_person_without_the_role_is_refused_privately_and_nothing_changes(slack):
    before = await snapshot(db(slack))
    _, _, url = await slack.command("new demo", user=BOB)
    answer = await slack.reply(url)
    assert answer["response_type"] == "ephemeral"
    assert "Only release managers (alice) may run `/release new`; you are bob." in headline(answer)
    assert await snapshot(db(slack)) == before


async def test_an_unknown_slack_user_may_read_but_not_change(slack):
    _, _, url = await slack.command("list", user="U0STRANGER1")
    assert "No open releases" in headline(await slack.reply(url))
    before = await snapshot(db(slack))
    _, _, url = await slack.command("new demo", user="U0STRANGER1")
    assert "Tower doesn't know you" in headline(await slack.reply(url))
    assert await snapshot(db(slack)) == before


async def test_bad_input_gets_one_clear_line(slack):
    _, _, url = await slack.command("abort demo --reson x")
    answer = await slack.reply(url)
    assert answer["response_type"] == "ephemeral"
    assert headline(answer) == ":warning: `/release abort` has no option `--reson`. Did you mean `--reason`?"


async def test_the_catch_all_command_and_help(slack):
    _, _, url = await slack.command("", command="/tower")
    assert "Commands, as alice" in headline(await slack.reply(url))
    _, _, url = await slack.command("release status", command="/tower")
    assert headline(await slack.reply(url)) == "No release is open."


async def test_hints_name_the_command_as_slack_runs_it(slack):
    _, _, url = await slack.command("", command="/release")
    refused = await slack.reply(url)
    assert refused["response_type"] == "ephemeral"
    assert headline(refused).endswith("Try `/tower help release`.")  # Slack keeps /help for itself
    _, _, url = await slack.command("", command="/tower")
    shown = block_texts(await slack.reply(url))
    assert "Type `/tower help COMMAND` for details and an example, e.g. `/tower help release new`." in shown
    assert "`/tower help [COMMAND" in shown and "`/release new PROJECT`" in shown
    assert "`/help" not in shown


async def test_a_button_runs_its_command_as_the_person_who_clicks(slack):
    _, _, url = await slack.command("new demo")
    answer = await slack.reply(url)
    assert '"value": "/release status demo#1"' in block_texts(answer)
    status, url = await slack.click("/release status demo#1", user=BOB)
    assert status == 200
    assert headline(await slack.reply(url)) == "demo#1: planning"


async def test_text_with_slack_escapes_round_trips(slack):
    await slack.reply((await slack.command("new demo"))[2])
    _, _, url = await slack.command('abort demo --reason "R&amp;D said &lt;no&gt;"')
    assert headline(await slack.reply(url)) == "Aborted demo#1 (it was planning): R&amp;D said &lt;no&gt;"
    async with db(slack).read() as s:
        assert (await audit.entries(s))[-1].detail == "R&D said <no>"


async def test_an_expired_response_url_falls_back_to_a_channel_message(slack):
    url = slack.fake.new_response_url()
    slack.fake.expire_response_url(url)
    from tests.fakes.slack_requests import post_signed, slash_command_body

    body = slash_command_body(command="/release", text="new demo", user_id=ALICE, channel_id=TEAM, response_url=url)
    assert (await post_signed(slack.events_url, SIGNING_SECRET, body))[0] == 200
    for _ in range(100):
        posted = [c.params for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == TEAM]
        if posted:
            break
        await asyncio.sleep(0.05)
    assert posted and posted[0]["text"] == f"<@{ALICE}> Opened demo#1 (planning)."


async def test_a_rate_limited_post_is_waited_out_and_sent_once(slack):
    slack.fake.rate_limit_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    await slack.reply((await slack.command("new demo"))[2])
    await slack.fake.wait_for_call("chat.postMessage", after=1, timeout=10)
    attempts = slack.fake.calls_to("chat.postMessage")
    assert [c.status for c in attempts][:1] == [429]
    assert attempts[1].time - attempts[0].time >= 1.0 and time.monotonic() - started >= 1.0
    await asyncio.sleep(0.3)
    assert len(slack.fake.messages.get(OTHER, [])) == 1
    async with db(slack).read() as s:
        rows = await outbox.all_for(s, f"slack:{OTHER}")
    assert [r.state for r in rows] == ["sent"]


async def test_shutdown_lets_an_acknowledged_command_finish(tmp_path, db_target, clock):
    """SIGTERM right after Slack got its ack: the work still completes and the reply still goes out."""
    from bot.app import open_tower
    from bot.config import ChatEnvironment
    from bot.service import Service
    from commands.engine.reply import Reply
    from commands.engine.roles import MEMBERS
    from commands.engine.spec import CommandSpec

    finished = []

    async def slow(inv, svc):
        await asyncio.sleep(0.5)
        finished.append(inv.actor)
        return Reply(text="slow work done")

    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        settings = platform_settings(tmp_path / "data")
        tower = await open_tower(settings, env, clock=clock)
        tower.services.registry.add(
            CommandSpec(
                group="release",
                name="slow",
                summary="takes a while",
                example="/release slow",
                handler=slow,
                allowed=MEMBERS,
            )
        )
        service = Service(tower, ChatEnvironment.read(env, settings))
        await service.start()
        status, _, url = await SlackSide(fake, service).command("slow")
        assert status == 200 and finished == []
        await service.stop()
        assert finished == ["alice"]
        (answer,) = fake.responses[fake.response_id(url)]
        assert headline(answer) == "slow work done"


async def test_a_command_prefix_renames_every_slash_command(tmp_path, db_target, clock):
    from commands.engine.settings import Settings

    data = platform_settings(tmp_path / "data").model_dump()
    data["tower"]["slack_command_prefix"] = "t-"
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        service = await start_service(Settings.model_validate(data), env, clock)
        try:
            side = SlackSide(fake, service)
            _, _, url = await side.command("new demo", command="/t-release")
            assert headline(await side.reply(url)) == "Opened demo#1 (planning)."
            status, _, _ = await side.command("list", command="/release")
            assert status == 404  # the unprefixed name is not Tower's
            notice = await fake.wait_for_call("chat.postMessage")  # the other team channel is told
            assert "`/t-release status demo#1`" in json.dumps(notice.params["blocks"])
            _, _, url = await side.command("", command="/t-release")
            refused = headline(await side.reply(url))
            assert refused.startswith(":warning: `/t-release` needs a subcommand: new, status,")
            assert refused.endswith("Try `/t-tower help release`.")
        finally:
            await service.stop()
