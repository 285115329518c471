"""User text is text on every platform: it never becomes Slack markup (a live @here, a disguised
link) in any field of a message, and never pings anyone on Discord."""

from __future__ import annotations

import asyncio

import pytest

from bot.platforms.slack_render import to_blocks
from commands.engine.reply import Button, Field, Reply
from tests.test_discord import ALICE_D, BOB_D, CHANNEL, Both, both  # noqa: F401

EVIL = "Verify <!here> & <https://evil.example|docs>"
ESCAPED = "Verify &lt;!here&gt; &amp; &lt;https://evil.example|docs&gt;"


def test_every_field_slack_shows_is_escaped():
    reply = Reply(
        text=EVIL,
        fields=[Field(EVIL, EVIL)],
        sections=[EVIL],
        footer=EVIL,
        buttons=[Button(label=EVIL, command="/help")],
    )
    text, blocks = to_blocks(reply)
    assert text == ESCAPED  # what notifications and screen readers show
    markup = [t["text"] for t in _texts(blocks) if t["type"] == "mrkdwn"]  # plain_text is never parsed
    assert len(markup) == 4 and all(ESCAPED in t and "<!here>" not in t for t in markup), markup


def _texts(value):
    if isinstance(value, dict):
        if value.get("type") in ("mrkdwn", "plain_text") and "text" in value:
            yield value
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _texts(v)


def test_a_mention_tower_makes_still_notifies_and_the_text_stays_escaped():
    text, blocks = to_blocks(Reply(text=EVIL), mentions="<@U0DEMOBOB>")
    assert text == f"<@U0DEMOBOB> {ESCAPED}"
    assert blocks[0]["text"]["text"] == f"<@U0DEMOBOB> {ESCAPED}"


@pytest.fixture
async def paged(both):  # noqa: F811
    for text, command in (("new demo", "/release"), ("assign demo", "/rotation")):
        _, _, url = await both.slack.command(text, command=command)
        await both.slack.reply(url)
    await both.command("page", user=ALICE_D, release="demo", message=EVIL)
    return both


async def test_a_page_typed_on_discord_reaches_slack_as_plain_text(paged: Both):
    def page_posts():
        return [c for c in paged.slack.fake.calls_to("chat.postMessage") if "Page #1" in c.params.get("text", "")]

    for _ in range(300):
        if page_posts():
            break
        await asyncio.sleep(0.1)
    posted = page_posts()
    assert posted, [c.params.get("text") for c in paged.slack.fake.calls_to("chat.postMessage")]
    for c in posted:
        assert "<!here>" not in c.params["text"] and "<https://evil" not in c.params["text"]
        assert "&lt;!here&gt; &amp; &lt;https://evil.example|docs&gt;" in c.params["text"]
        assert "<!here>" not in str(c.params.get("blocks"))


async def test_on_discord_only_the_people_tower_means_are_pinged(paged: Both):
    posts = await paged.discord.wait_until(
        lambda: [c for c in paged.discord.calls if c.method == "POST" and c.path.endswith("/messages")]
    )
    for call in posts:
        allowed = call.json.get("allowed_mentions")
        assert allowed is not None, call.json
        assert allowed.get("parse", []) == [] and not allowed.get("roles")
        assert {str(u) for u in allowed.get("users", [])} <= {BOB_D}
    # Interaction answers (edits and follow-ups) carry the same guard.
    answers = [c for c in paged.discord.calls if c.method in ("PATCH", "POST") and "/webhooks/" in c.path]
    assert answers and all((c.json or {}).get("allowed_mentions", {}).get("parse") == [] for c in answers)
