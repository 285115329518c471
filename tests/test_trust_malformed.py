"""Malformed input from outside gets a 4xx and one log line, never a 500 or a traceback: Slack
bodies that are not what Slack sends, a CI callback nested fifty thousand deep, release addresses
no release can have."""

from __future__ import annotations

import logging

import pytest

from tests.fakes.slack_requests import FORM, sign
from tests.fakes.slack_server import FakeSlack
from tests.platform_harness import SIGNING_SECRET, SLACK_TOKEN, platform_settings, start_service


@pytest.fixture
async def service(tmp_path, db_target, clock):
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url.rstrip("/"),
        }
        svc = await start_service(platform_settings(tmp_path / "data"), env, clock)
        try:
            yield svc
        finally:
            await svc.stop()


async def post(service, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"http://127.0.0.1:{service.port}{path}", data=body, headers=headers) as response,
    ):
        return response.status, await response.text()


async def get(service, path: str) -> tuple[int, str]:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{service.port}{path}") as response,
    ):
        return response.status, await response.text()


SLACK_BODIES = {
    "payload not JSON": "payload=%7Bnot-json",
    "payload a JSON list": "payload=%5B1%2C2%5D",
    "payload nested deep": "payload=" + "%5B" * 50_000,
    "not a form": "\x00\x01\x02",
}


@pytest.mark.parametrize("case", SLACK_BODIES)
@pytest.mark.parametrize("signed", [True, False])
async def test_slack_bodies_that_slack_never_sends_get_a_4xx(service, case, signed, caplog):
    body = SLACK_BODIES[case]
    headers = {"Content-Type": FORM, **(sign(SIGNING_SECRET, body) if signed else {})}
    with caplog.at_level(logging.INFO):
        status, text = await post(service, "/slack/events", body.encode("latin-1"), headers)
    assert 400 <= status < 500, (status, text[:200])
    assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records if r.exc_info]


@pytest.mark.parametrize("stamp", ["abc", "1e9", "", "9" * 5000, "\u00b2"])
async def test_a_slack_timestamp_that_is_not_a_number_gets_a_4xx(service, stamp, caplog):
    body = "command=%2Frelease&text=list"
    headers = {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=00"}
    with caplog.at_level(logging.INFO):
        status, _ = await post(service, "/slack/events", body.encode(), headers)
    assert 400 <= status < 500
    assert not any(r.exc_info for r in caplog.records)


async def test_a_callback_nested_fifty_thousand_deep_gets_a_4xx(service, caplog):
    with caplog.at_level(logging.INFO):
        status, text = await post(service, "/hooks/ci", b"[" * 50_000, {"Content-Type": "application/json"})
    assert 400 <= status < 500, text[:200]
    assert not any(r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "path",
    [
        "/releases/demo/r%C2%B2",
        "/releases/demo/r" + "9" * 400,
        "/releases/demo/r99999999999",
        "/releases/demo/r-1",
        "/releases/demo/%00",  # PostgreSQL refuses NUL in a text value: asking would be a 500
        "/releases/demo/1.3.0%1B",
    ],
)
async def test_release_addresses_no_release_can_have_are_not_found(service, path, caplog):
    with caplog.at_level(logging.INFO):
        for suffix in ("", ".json"):
            status, _ = await get(service, path + suffix)
            assert status == 404, (path, suffix, status)
    assert not any(r.exc_info for r in caplog.records)
