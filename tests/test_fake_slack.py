"""The fake Slack against the real slack_sdk / slack-bolt clients: if these pass, the fake speaks
the protocol Tower's Slack adapter will meet in production."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.fakes.slack_requests import block_action_body, post_signed, sign, slash_command_body
from tests.fakes.slack_server import FakeSlack

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(bot_token=TOKEN) as f:
        yield f


@dataclass
class Bolt:
    url: str
    ran: list[dict] = field(default_factory=list)  # bodies seen by listeners
    done: asyncio.Queue = field(default_factory=asyncio.Queue)  # one item per finished listener


@pytest.fixture
async def bolt(fake) -> AsyncIterator[Bolt]:
    """A bare AsyncApp mounted at /slack/events on an aiohttp app of our own, as Tower will do."""
    # The token comes from the client; passing token= as well only earns a "token will be unused" warning.
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=fake.api_url))
    web_app = web.Application()

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    web_app.router.add_post("/slack/events", slack_events)
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    state = Bolt(url=f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events")

    @app.command("/release")
    async def release(ack, respond, body):
        await ack()
        state.ran.append(body)
        await respond(f"Release {body['text']} is on its way")
        state.done.put_nowait("release")

    @app.command("/status")
    async def status(ack, body):
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*all green*"}}]
        await ack(text="all green", blocks=blocks, response_type="in_channel")
        state.ran.append(body)
        state.done.put_nowait("status")

    @app.action("approve")
    async def approve(ack, body, respond):
        await ack()
        state.ran.append(body)
        await respond(text="approved", replace_original=True)
        state.done.put_nowait("approve")

    yield state
    await runner.cleanup()


def _command(fake: FakeSlack, command: str = "/release", text: str = "1.4.0") -> tuple[str, str]:
    url = fake.new_response_url()
    body = slash_command_body(command=command, text=text, user_id="U0ALICE", channel_id="C0RELEASE", response_url=url)
    return url, body


async def test_signed_slash_command_acks_fast_then_responds(fake, bolt):
    url, body = _command(fake)
    started = time.monotonic()
    status, _, text = await post_signed(bolt.url, SECRET, body)
    assert (status, text) == (200, "")  # an empty ack() is an empty 200
    assert time.monotonic() - started < 3  # Slack gives up after 3 s
    assert await fake.wait_for_response(url) == [{"text": "Release 1.4.0 is on its way"}]
    assert await asyncio.wait_for(bolt.done.get(), 5) == "release"
    assert bolt.ran[0]["command"] == "/release" and bolt.ran[0]["user_id"] == "U0ALICE"
    # AsyncApp(token=...) checks its token lazily: one auth.test on the first request, then cached.
    assert [c.status for c in fake.calls_to("auth.test")] == [200]
    url2, body2 = _command(fake)
    assert (await post_signed(bolt.url, SECRET, body2))[0] == 200
    await fake.wait_for_response(url2)
    assert len(fake.calls_to("auth.test")) == 1


async def test_ack_with_blocks_is_a_json_body(fake, bolt):
    _, body = _command(fake, "/status", "")
    status, content_type, text = await post_signed(bolt.url, SECRET, body)
    assert (status, content_type) == (200, "application/json")
    assert json.loads(text) == {
        "text": "all green",
        "response_type": "in_channel",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*all green*"}}],
    }
    await asyncio.wait_for(bolt.done.get(), 5)


async def test_bad_signature_is_refused_before_any_listener(fake, bolt):
    url, body = _command(fake)
    status, _, _ = await post_signed(bolt.url, "not-the-secret", body)
    assert status == 401
    await asyncio.sleep(0.2)  # a listener, had it started, would have run by now
    assert bolt.ran == [] and fake.responses[fake.response_id(url)] == []
    assert fake.calls == []  # verification runs before authorization: not even auth.test


async def test_stale_timestamp_is_refused(fake, bolt):
    _, body = _command(fake)
    status, _, _ = await post_signed(bolt.url, SECRET, body, timestamp=int(time.time()) - 6 * 60)
    assert status == 401 and bolt.ran == []


async def test_button_click_reaches_action_listener(fake, bolt):
    url = fake.new_response_url()
    body = block_action_body(
        action_id="approve",
        value="release-42",
        user_id="U0BOB",
        channel_id="C0RELEASE",
        response_url=url,
        message_ts="1700000000.000100",
    )
    assert (await post_signed(bolt.url, SECRET, body))[0] == 200
    assert await asyncio.wait_for(bolt.done.get(), 5) == "approve"
    action = bolt.ran[0]["actions"][0]
    assert (action["action_id"], action["value"], bolt.ran[0]["user"]["id"]) == ("approve", "release-42", "U0BOB")
    assert await fake.wait_for_response(url) == [{"text": "approved", "replace_original": True}]


async def test_rate_limited_post_is_retried_once(fake):
    client = AsyncWebClient(
        token=TOKEN, base_url=fake.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    fake.rate_limit_next("chat.postMessage", retry_after=1)
    meta = {"event_type": "tower_post", "event_payload": {"key": "release-42:announce"}}
    resp = await client.chat_postMessage(channel="C0RELEASE", text="Shipping 1.4.0", metadata=meta)
    first, second = fake.calls_to("chat.postMessage")
    assert (first.status, second.status) == (429, 200) and second.time - first.time >= 1.0
    assert [m["ts"] for m in fake.messages["C0RELEASE"]] == [resp["ts"]]
    history = await client.conversations_history(channel="C0RELEASE", include_all_metadata=True, limit=10)
    assert history["messages"][0]["metadata"] == meta
    plain = await client.conversations_history(channel="C0RELEASE")
    assert "metadata" not in plain["messages"][0]


async def test_without_a_retry_handler_429_raises(fake):
    fake.rate_limit_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await AsyncWebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage(channel="C1", text="hi")
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7" and fake.messages == {}


async def test_delay_posts_then_times_out_and_fail_does_not_post(fake):
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url, timeout=0.3)  # type: ignore[arg-type]
    fake.delay_next("chat.postMessage", 5)
    with pytest.raises(asyncio.TimeoutError):  # not a SlackApiError: Tower must catch both
        await client.chat_postMessage(channel="C1", text="maybe")
    assert [m["text"] for m in fake.messages["C1"]] == ["maybe"]
    fake.fail_next("chat.postMessage", 503)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="C1", text="never")
    assert err.value.response.status_code == 503 and len(fake.messages["C1"]) == 1


async def test_response_url_takes_five_posts_and_expires(fake):
    url = fake.new_response_url()
    hook = AsyncWebhookClient(url)  # what bolt's respond() uses; it never raises on HTTP errors
    statuses = [(await hook.send(text=f"step {i}")).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    assert "used_url" in (await hook.send(text="again")).body
    assert len(fake.responses[fake.response_id(url)]) == 5
    other = fake.new_response_url()
    fake.expire_response_url(other)
    resp = await AsyncWebhookClient(other).send(text="late")
    assert resp.status_code == 404 and "expired_url" in resp.body


async def test_base_url_with_or_without_trailing_slash(fake):
    # slack_sdk appends "/" when missing, then urljoin()s the method name: both forms hit /api/auth.test.
    for base in (fake.api_url, fake.api_url.rstrip("/")):
        assert (await AsyncWebClient(token=TOKEN, base_url=base).auth_test())["user_id"] == "U0TOWERBOT"
    # Without the /api path the method lands at /auth.test: a 404 that surfaces as SlackApiError.
    with pytest.raises(SlackApiError):
        await AsyncWebClient(token=TOKEN, base_url=fake.base_url).auth_test()


async def test_auth_and_unknown_methods(fake):
    with pytest.raises(SlackApiError, match="invalid_auth"):
        await AsyncWebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test()
    with pytest.raises(SlackApiError, match="not_authed"):
        await AsyncWebClient(base_url=fake.api_url).auth_test()
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    with pytest.raises(SlackApiError, match="unknown_method"):
        await client.api_call("tower.nothing")
    assert fake.calls[-1].method == "tower.nothing"
    # The legacy form-field token works too.
    form = await AsyncWebClient(base_url=fake.api_url).api_call("auth.test", data={"token": TOKEN})
    assert form["team_id"] == "T0TOWER01"


async def test_dm_update_delete_and_users(fake):
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    fake.add_user("U0ALICE", name="alice", tz="Europe/Paris")
    dm = (await client.conversations_open(users="U0ALICE"))["channel"]["id"]
    assert dm.startswith("D")
    n = len(fake.calls_to("chat.postMessage"))
    posted = await client.chat_postMessage(channel="U0ALICE", text="hello")  # user id -> their DM
    assert (await fake.wait_for_call("chat.postMessage", after=n)).params["text"] == "hello"
    assert posted["channel"] == dm
    await client.chat_update(channel=dm, ts=posted["ts"], text="hello again")
    assert fake.messages[dm][0]["text"] == "hello again"
    await client.chat_delete(channel=dm, ts=posted["ts"])
    assert fake.messages[dm] == []
    assert (await client.users_info(user="U0ALICE"))["user"]["tz"] == "Europe/Paris"
    with pytest.raises(SlackApiError, match="user_not_found"):
        await client.users_info(user="U0NOBODY")


async def test_form_posts_threads_and_history_paging(fake):
    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    meta = {"event_type": "tower_post", "event_payload": {"key": "k1"}}
    waiter = asyncio.create_task(fake.wait_for_call("chat.postMessage", after=0, timeout=5))
    # Form-encoded, as some callers send it: blocks/metadata arrive as JSON strings and are decoded.
    parent = await client.api_call(
        "chat.postMessage",
        data={
            "channel": "#releases",
            "text": "parent",
            "metadata": json.dumps(meta),
            "blocks": json.dumps([{"type": "divider"}]),
        },
    )
    assert (await waiter).params["metadata"] == json.dumps(meta)
    channel = parent["channel"]
    assert channel.startswith("C") and fake.messages[channel][0]["blocks"] == [{"type": "divider"}]
    await client.chat_postMessage(channel=channel, text="reply", thread_ts=parent["ts"])
    later = await client.chat_postMessage(channel=channel, text="later")
    history = await client.conversations_history(channel=channel, limit=1, include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["later"] and history["has_more"]
    rest = await client.conversations_history(
        channel=channel, cursor=history["response_metadata"]["next_cursor"], include_all_metadata=True
    )
    assert [m["text"] for m in rest["messages"]] == ["parent"] and rest["messages"][0]["metadata"] == meta
    newer = await client.conversations_history(channel=channel, oldest=parent["ts"])
    assert [m["ts"] for m in newer["messages"]] == [later["ts"]]  # oldest is exclusive; replies stay out
    replies = await client.conversations_replies(channel=channel, ts=parent["ts"])
    assert [m["text"] for m in replies["messages"]] == ["parent", "reply"]


def test_sign_matches_slack_sdk_verifier():
    from slack_sdk.signature import SignatureVerifier

    headers = sign(SECRET, "a=b", 1_700_000_000)
    assert (
        SignatureVerifier(SECRET).generate_signature(timestamp="1700000000", body="a=b") == headers["X-Slack-Signature"]
    )
