"""A signed webhook as Tower's CI: the CI contract (a receiver that deduplicates by Idempotency-Key and
reports only by callback), then the exact body, headers and signature, the secret and failures —
above all a request whose answer was lost, which is safe to send again."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.integrations.ci_webhook import WebhookCI
from commands.engine.ports import CIError, CIUnavailable, Run
from tests.ci_contract import *  # noqa: F403
from tests.ci_contract import CIUnderTest, request
from tests.ci_fixtures import closing, under_test
from tests.fakes.ci_webhook import FakeCIWebhook

SECRET = "whsec-s3cretWebhookValue0123"
SECRET_ENV = "TOWER_CI_SECRET"


@pytest.fixture
async def hook() -> AsyncIterator[FakeCIWebhook]:
    async with FakeCIWebhook(SECRET) as fake:
        yield fake


def make_ci(hook: FakeCIWebhook, secret: str | None = SECRET, timeout: float = 5.0) -> WebhookCI:
    return WebhookCI(hook.url, secret, timeout=timeout, secret_env=SECRET_ENV)


@pytest.fixture
async def ci(hook) -> AsyncIterator[WebhookCI]:
    async with closing(make_ci(hook)) as ci:
        yield ci


@pytest.fixture
def ci_under_test(hook, ci) -> CIUnderTest:
    return under_test(ci, hook, pollable=False, findable=False)


def sign(timestamp: str, raw: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256).hexdigest()


# -- the exact request ---------------------------------------------------------------------------


async def test_trigger_posts_the_whole_request_signed_with_the_operation_id_as_key(hook, ci):
    before = int(time.time())
    run = await ci.trigger(request("op-7"))
    [got] = hook.received
    assert json.loads(got.raw) == dataclasses.asdict(request("op-7"))
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Idempotency-Key"] == "op-7"
    timestamp = got.headers["X-Tower-Timestamp"]
    assert before <= int(timestamp) <= time.time()
    assert got.headers["X-Tower-Signature"] == sign(timestamp, got.raw)
    assert got.status == 202
    assert run == Run(run_id="wh-1", url=f"{hook.base_url}/runs/1", status="unknown")


async def test_without_a_run_id_in_the_answer_the_operation_id_is_the_run_id(hook, ci):
    hook.answer_with_run = False
    assert await ci.trigger(request("op-bare")) == Run(run_id="op-bare", url=None, status="unknown")


async def test_status_and_find_ask_nothing(hook, ci):
    assert await ci.status("wh-9") == Run(run_id="wh-9", url=None, status="unknown")
    assert await ci.find(request()) is None
    assert hook.received == []


# -- the receiver's checks -----------------------------------------------------------------------


async def test_the_receiver_refuses_bad_signatures_and_stale_timestamps(hook):
    raw = json.dumps(dataclasses.asdict(request())).encode()
    now = str(int(time.time()))
    stale = str(int(time.time()) - 301)
    async with httpx.AsyncClient() as client:

        async def post(timestamp: str, signature: str) -> int:
            headers = {"Idempotency-Key": "op-x", "X-Tower-Timestamp": timestamp, "X-Tower-Signature": signature}
            return (await client.post(hook.url, content=raw, headers=headers)).status_code

        assert await post(now, sign(now, raw, "another-secret")) == 401
        assert await post(now, sign(now, raw + b" ")) == 401
        assert await post(stale, sign(stale, raw)) == 401
        assert await post("", sign("", raw)) == 401
        assert hook.started == 0
        assert await post(now, sign(now, raw)) == 202
    assert hook.started == 1


async def test_a_wrong_secret_is_a_ci_error_naming_the_variable(hook):
    async with closing(make_ci(hook, secret="whsec-wrong")) as ci:
        with pytest.raises(CIError) as caught:
            await ci.trigger(request())
    assert not isinstance(caught.value, CIUnavailable)
    text = f"{caught.value} {caught.value!r}"
    assert "401" in text and SECRET_ENV in text and "whsec-wrong" not in text and SECRET not in text
    assert hook.started == 0


async def test_a_missing_secret_is_a_ci_error_before_anything_is_sent(hook):
    async with closing(make_ci(hook, secret=None)) as ci:
        with pytest.raises(CIError, match=f"{SECRET_ENV} is not set"):
            await ci.trigger(request())
    assert hook.received == []


async def test_a_clock_out_of_the_receivers_window_is_a_ci_error_about_the_clock(hook, ci):
    hook.now = lambda: time.time() + 600
    with pytest.raises(CIError, match="clock"):
        await ci.trigger(request())
    assert hook.started == 0


# -- failures ------------------------------------------------------------------------------------


async def test_a_5xx_is_unavailable_and_not_repeated(hook, ci):
    hook.fail_next(status=500)
    with pytest.raises(CIUnavailable, match="500") as caught:
        await ci.trigger(request())
    assert caught.value.maybe_started and SECRET not in str(caught.value)
    assert [r.status for r in hook.received] == [500] and hook.started == 0


async def test_a_429_is_retried(hook, ci):
    hook.fail_next(status=429)
    assert (await ci.trigger(request())).run_id == "wh-1"
    assert [r.status for r in hook.received] == [429, 202]


async def test_a_request_whose_answer_is_lost_can_be_sent_again_and_starts_nothing_new(hook):
    async with closing(make_ci(hook, timeout=0.3)) as ci:
        hook.timeout_next(delay=5)
        async with asyncio.timeout(10):
            with pytest.raises(CIUnavailable) as caught:
                await ci.trigger(request("op-lost"))
            assert caught.value.maybe_started and SECRET not in str(caught.value)
            assert hook.started == 1
            again = await ci.trigger(request("op-lost"))
        assert again.run_id == "wh-1" and hook.started == 1
        assert [r.headers["Idempotency-Key"] for r in hook.received] == ["op-lost", "op-lost"]
        assert [r.status for r in hook.received] == [202, 200]


async def test_a_stopped_receiver_is_unavailable_and_nothing_started(hook, ci):
    await hook.stop()
    async with asyncio.timeout(15):
        with pytest.raises(CIUnavailable, match="Can't reach") as caught:
            await ci.trigger(request())
    assert not caught.value.maybe_started


async def test_messages_name_the_host_not_the_url(hook):
    async with closing(WebhookCI(f"{hook.base_url}/hooks/s3cret-path-token", SECRET, secret_env=SECRET_ENV)) as ci:
        with pytest.raises(CIError) as caught:
            await ci.trigger(request())  # no such path: 404
    assert "404" in str(caught.value) and "s3cret-path-token" not in str(caught.value)
