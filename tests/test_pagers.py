"""Pages reach PagerDuty (Events API v2) and a signed webhook through the courier, exactly once per
page and action, with PagerDuty's dedup_key set to the page."""

import hashlib
import hmac

import pytest

from bot.courier import Courier, Pace
from bot.integrations.pager import PagerDutySender, WebhookPagerSender
from commands.engine.settings import Settings
from tests.fakes.pagers import FakePagerDuty, FakePagerWebhook
from tests.support import make_settings, run

KEY_ENV, SECRET_ENV = "PAGERDUTY_ROUTING_KEY", "PAGER_HOOK_SECRET"


@pytest.fixture
async def paged(tmp_path, db_target, clock):
    from bot.app import open_tower

    async with FakePagerDuty() as pd, FakePagerWebhook() as hook:
        data = make_settings(tmp_path / "data").model_dump()
        data["projects"]["demo"]["paging"] = {
            "pagerduty_routing_key_env": KEY_ENV,
            "pagerduty_url": pd.base_url,
            "webhook_url": hook.url,
            "webhook_secret_env": SECRET_ENV,
        }
        settings = Settings.model_validate(data)
        env = {KEY_ENV: pd.routing_key, SECRET_ENV: "s3cret"}
        tower = await open_tower(settings, db_target.env(), clock=clock)
        senders = [PagerDutySender(settings, env), WebhookPagerSender(settings, env)]
        tower.courier = Courier(
            tower.services.db,
            clock,
            {"pagerduty": senders[0], "pager-webhook": senders[1]},
            pace={"pagerduty": Pace(0), "pager-webhook": Pace(0)},
        )
        tower.pd, tower.hook = pd, hook
        await run(tower, "/release new demo")
        await run(tower, "/rotation assign demo")
        try:
            yield tower
        finally:
            for sender in senders:
                await sender.close()
            await tower.close()


async def test_a_page_triggers_one_incident_and_the_ack_acknowledges_it(paged):
    await run(paged, "/page demo the node is down", as_="tobby")
    await paged.courier.drain()
    (trigger,) = paged.pd.events
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "tower-demo-page-1"
    assert trigger["payload"]["summary"] == "Page #1 for demo#1: the node is down"
    assert trigger["payload"]["severity"] == "critical"
    await run(paged, "/ack 1", as_="bob")
    await paged.courier.drain()
    assert [e["event_action"] for e in paged.pd.events] == ["trigger", "acknowledge"]
    assert paged.pd.incidents == {"tower-demo-page-1": "acknowledged"}


async def test_a_throttled_pagerduty_is_waited_out(paged):
    paged.pd.rate_limited = 1
    await run(paged, "/page demo disk", as_="tobby")
    await paged.courier.drain()
    assert paged.pd.incidents == {"tower-demo-page-1": "triggered"}


async def test_the_webhook_is_signed_and_carries_an_idempotency_key(paged):
    await run(paged, "/page demo disk", as_="tobby")
    await paged.courier.drain()
    ((headers, body),) = paged.hook.received
    assert body["event"] == "trigger" and body["page"] == 1 and body["project"] == "demo"
    expected = hmac.new(
        b"s3cret", f"{headers['X-Tower-Timestamp']}.{body['_raw']}".encode(), hashlib.sha256
    ).hexdigest()
    assert headers["X-Tower-Signature"] == f"sha256={expected}"
    assert headers["Idempotency-Key"] == "page:1:step:0:pager@pager-webhook:demo"
