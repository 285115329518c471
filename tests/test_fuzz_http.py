"""Property: whatever arrives over HTTP — any method, any path under any route, any headers, any body
— Tower answers below 500 and changes no row. Signed requests are the other fuzz tests' business;
these never carry a valid signature, as an attacker's would not."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import example, given
from hypothesis import strategies as st

from bot.platforms.slack import SlackAdapter
from bot.telemetry import Telemetry
from bot.web import Replica, build_web_app
from jobs.scheduler import Wakeups
from tests.test_fuzz import FUZZ, everything, live  # noqa: F401

SLACK_SECRET = "fuzz-signing-secret"
ROUTES = [
    "/",
    "/index.html",
    "/style.css",
    "/feed.xml",
    "/healthz",
    "/readyz",
    "/metrics",
    "/hooks/ci",
    "/slack/events",
    "/releases/{project}/{ref}",
    "/releases/{project}/{ref}.json",
    "/releases/{project}/{ref}.html",
    "/calendar/{project}.ics",
    "/{anything}",
]
SEGMENT = st.one_of(
    st.sampled_from(["demo", "1.3.0", "r1", "r0", "r-1", "r" + "9" * 40, "%C2%B2", "..", "%00", "%2F", "r%C2%B2"]),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"), min_size=1, max_size=30).map(
        lambda s: "".join(c if c.isalnum() or c in "-._~" else f"%{ord(c) & 0xFF:02X}" for c in s)
    ),
)
PATHS = st.builds(
    lambda route, a, b, c: route.format(project=a, ref=b, anything=c),
    st.sampled_from(ROUTES),
    SEGMENT,
    SEGMENT,
    SEGMENT,
)
HEADER_NAMES = [
    "Content-Type",
    "X-Slack-Request-Timestamp",
    "X-Slack-Signature",
    "X-Slack-Retry-Num",
    "X-Tower-Timestamp",
    "X-Tower-Signature",
    "X-Tower-Delivery",
    "Accept",
]
HEADER_VALUES = st.one_of(
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", "1", "-1", "9" * 30, ""]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
)
BODIES = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"payload=%7Bnot-json",
            b"payload=" + b"%5B" * 5000,
            b"[" * 50_000,
            b'{"operation_id": "x", "event": "deploy.failed"}',
            b"command=%2Frelease&text=new+demo&user_id=U0DEMOALICE&channel_id=C1&trigger_id=t",
            b'{"type": "url_verification", "challenge": "x"}',
        ]
    ),
    st.text(max_size=200).map(str.encode),
)


@pytest.fixture
async def anything_goes(live):  # noqa: F811
    services = live.tower.services
    slack = SlackAdapter(
        services,
        live.tower.dispatcher,
        bot_token="xoxb-fuzz",
        signing_secret=SLACK_SECRET,
        api_url="http://127.0.0.1:9/",
    )
    # A standby replica: its probes answer 200 without a running scheduler, which would change rows.
    standby = Replica(telemetry=Telemetry(services), is_leader=lambda: False)
    app = build_web_app(live.tower, Wakeups(services), slack=slack, replica=standby)
    async with TestClient(TestServer(app)) as client:
        live.client = client
        yield live


@FUZZ
@example(method="POST", path="/hooks/ci", headers={}, body=b"[" * 50_000)
@example(
    method="POST",
    path="/slack/events",
    headers={"Content-Type": "application/x-www-form-urlencoded"},
    body=b"payload=%7Bnot-json",
)
@example(method="POST", path="/slack/events", headers={"X-Slack-Request-Timestamp": "abc"}, body=b"x=1")
@example(method="GET", path="/releases/demo/r%C2%B2", headers={}, body=b"")
@example(method="GET", path="/releases/demo/r" + "9" * 40 + ".json", headers={}, body=b"")
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
    path=PATHS,
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUES, max_size=5),
    body=BODIES,
)
async def test_any_request_gets_an_answer_below_500_and_changes_nothing(anything_goes, method, path, headers, body):
    before = await everything(anything_goes)
    response = await anything_goes.client.request(method, path, headers=headers, data=body, allow_redirects=False)
    text = await response.text()
    assert response.status < 500, (response.status, text[:300])
    assert await everything(anything_goes) == before
