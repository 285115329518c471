"""The Discord adapter end to end: the real discord.py client against a local fake Discord (REST and
gateway), through Tower's real service — and the same commands from Slack, for comparison."""

import asyncio

import pytest

from commands.catalog import build_registry
from storage.queries import audit, outbox
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack
from tests.platform_harness import (
    OTHER,
    SIGNING_SECRET,
    SLACK_TOKEN,
    TEAM,
    SlackSide,
    headline,
    platform_settings,
    start_service,
)
from tests.support import snapshot

GUILD, CHANNEL, APP = "800000000000000001", "700000000000000001", "900000000000000001"
ALICE_D, BOB_D, STRANGER_D = "100000000000000001", "100000000000000002", "555555555555555555"


class Both:
    def __init__(self, discord_fake, slack_fake, service):
        self.discord, self.service = discord_fake, service
        self.slack = SlackSide(slack_fake, service)

    @property
    def db(self):
        return self.service.tower.services.db

    async def command(self, name: str, user: str = ALICE_D, **options):
        """Run a slash command from Discord; returns the fake's record of the interaction once answered."""
        opts = [{"name": k, "value": v} for k, v in options.items()]
        interaction = await self.discord.send_interaction(user_id=user, name=name, options=opts)
        await self.discord.wait_until(lambda: answered(interaction))
        return interaction


def answered(interaction) -> bool:
    """Tower has edited its deferred response, or sent a follow-up."""
    return bool(interaction.edits or interaction.followups)


def embed_text(interaction) -> str:
    return interaction.replies[-1]["embeds"][0]["description"]


def is_ephemeral(interaction) -> bool:
    return bool(interaction.replies[-1]["flags"] & 64)


@pytest.fixture
async def both(tmp_path, db_target, clock):
    fake_discord = FakeDiscord(members={ALICE_D: "alice", BOB_D: "bob", STRANGER_D: "stranger"})
    await fake_discord.start()
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake_slack:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "DISCORD_TOKEN": fake_discord.token,
            "DISCORD_API_URL": fake_discord.api_url,
            "DISCORD_GATEWAY_URL": fake_discord.gateway_url,
            "DISCORD_GUILD_ID": GUILD,
        }
        service = await start_service(platform_settings(tmp_path / "data", discord_channel=CHANNEL), env, clock)
        try:
            yield Both(fake_discord, fake_slack, service)
        finally:
            await service.stop()
            await fake_discord.stop()


async def test_commands_are_synced_to_the_guild_from_the_registry(both):
    put = await both.discord.wait_for_call("PUT", rf"/applications/{APP}/guilds/{GUILD}/commands")
    names = {c["name"] for c in put.json}
    registry = build_registry()
    assert names == {*registry.groups(), *(s.name for s in registry.top_level())}
    release = next(c for c in put.json if c["name"] == "release")
    subs = {o["name"]: o for o in release["options"]}
    assert set(subs) == {s.name for s in registry.in_group("release")}
    abort = {o["name"]: o for o in subs["abort"]["options"]}
    assert abort["release"]["required"] and abort["release"]["autocomplete"] and abort["release"]["type"] == 3
    assert abort["reason"]["required"] and abort["reason"]["type"] == 3
    assert {o["name"]: o["type"] for o in subs["list"]["options"]}["all"] == 5  # a boolean switch


async def test_a_command_is_deferred_first_then_answered_publicly(both):
    interaction = await both.command("release new", project="demo")
    assert interaction.callbacks[0] == {"type": 5}  # deferred, public, before any work
    assert embed_text(interaction).startswith("Opened demo#1 (planning).")
    assert not is_ephemeral(interaction)
    buttons = interaction.replies[-1]["components"][0]["components"]
    assert buttons[0]["custom_id"] == "tower:/release status demo#1"
    async with both.db.read() as s:
        (entry,) = await audit.entries(s)
    assert (entry.actor, entry.platform, entry.channel, entry.command) == (
        "alice",
        "discord",
        f"discord:{CHANNEL}",
        "/release new demo",
    )


async def test_the_same_command_from_slack_and_discord_changes_the_same_and_says_the_same(both):
    _, _, url = await both.slack.command("new demo")
    from_slack = await both.slack.reply(url)
    _, _, url = await both.slack.command("abort demo --reason again")
    await both.slack.reply(url)
    from_discord = await both.command("release new", project="demo")
    assert headline(from_slack) == "Opened demo#1 (planning)."
    assert embed_text(from_discord).splitlines()[0] == "Opened demo#2 (planning)."
    async with both.db.read() as s:
        entries = await audit.entries(s)
    assert [(e.action, e.actor, e.platform) for e in entries] == [
        ("release.new", "alice", "slack"),
        ("release.abort", "alice", "slack"),
        ("release.new", "alice", "discord"),
    ]
    status = await both.command("release status", release="demo")
    assert embed_text(status).splitlines()[0] == "demo#2: planning"


async def test_reads_and_refusals_are_private_and_change_nothing(both):
    status = await both.command("release status", user=BOB_D)
    assert embed_text(status) == "No release is open." and is_ephemeral(status)
    before = await snapshot(both.db)
    refused = await both.command("release new", user=BOB_D, project="demo")
    assert is_ephemeral(refused)
    assert embed_text(refused) == "Only release managers (alice) may run `/release new`; you are bob."
    assert refused.replies[-1]["embeds"][0]["color"] == 0xC62828
    stranger = await both.command("release abort", user=STRANGER_D, release="demo", reason="x")
    assert "Tower doesn't know you" in embed_text(stranger) and is_ephemeral(stranger)
    assert await snapshot(both.db) == before


async def test_an_illegal_step_is_refused_privately_after_the_public_defer(both):
    await both.command("release new", project="demo")
    await both.command("release abort", release="demo", reason="first")
    refused = await both.command("release abort", release="demo#1", reason="again")
    assert is_ephemeral(refused) and "It was already aborted" in embed_text(refused)
    assert refused.original is None  # the public "thinking…" was taken back


async def test_a_button_runs_its_command_as_the_person_who_clicks(both):
    await both.command("release new", project="demo")
    clicked = await both.discord.send_interaction(user_id=BOB_D, kind=3, custom_id="tower:/release status demo#1")
    await both.discord.wait_until(lambda: answered(clicked))
    assert embed_text(clicked).startswith("demo#1: planning") and is_ephemeral(clicked)


async def test_autocomplete_offers_projects_and_open_releases(both):
    await both.command("release new", project="demo")
    asked = await both.discord.send_interaction(
        user_id=ALICE_D, name="release abort", kind=4, options=[{"name": "release", "value": "de", "focused": True}]
    )
    await both.discord.wait_until(lambda: asked.choices is not None)
    assert [c["value"] for c in asked.choices] == ["demo", "demo#1"]


async def test_team_channels_on_both_platforms_hear_about_changes(both):
    _, _, url = await both.slack.command("new demo")
    await both.slack.reply(url)
    posted = await both.discord.wait_until(lambda: both.discord.messages.get(CHANNEL))
    assert posted[0]["embeds"][0]["description"].startswith("Alice opened demo#1 (planning).")
    assert posted[0]["nonce"]  # the outbox key travels as the nonce, so a re-send cannot duplicate
    call = await both.slack.fake.wait_for_call("chat.postMessage")
    assert call.params["channel"] == OTHER


async def test_a_rate_limited_answer_is_waited_out_and_arrives_once(both):
    both.discord.rate_limit_next("PATCH", r"/webhooks/.*/messages/@original", retry_after=0.5)
    interaction = await both.command("release new", project="demo")
    edits = [c for c in both.discord.calls if c.method == "PATCH" and c.path.endswith("@original")]
    assert [c.status for c in edits] == [429, 200]
    assert edits[1].at - edits[0].at >= 0.45
    assert len(interaction.replies) == 1


async def test_a_dropped_gateway_connection_is_resumed(both):
    await both.command("release new", project="demo")
    await both.discord.drop_connection(abort=True)
    await both.discord.wait_until(lambda: both.discord.resumes == 1)
    status = await both.command("release status", release="demo")
    assert embed_text(status).startswith("demo#1: planning")
    assert both.discord.identifies == 1


async def test_an_expired_interaction_falls_back_to_a_channel_message(both):
    both.discord.fail_next("PATCH", r"/webhooks/.*/messages/@original", status=404)
    await both.discord.send_interaction(
        user_id=ALICE_D, name="release new", options=[{"name": "project", "value": "demo"}]
    )
    posted = await both.discord.wait_until(
        lambda: [m for m in both.discord.messages.get(CHANNEL, []) if "Opened demo#1" in m["embeds"][0]["description"]]
    )
    assert posted[0]["embeds"][0]["description"].startswith(f"<@{ALICE_D}>: Opened demo#1 (planning).")


async def test_a_page_reaches_the_pilot_directly_and_its_button_acknowledges_it(both):
    for text, command in (("new demo", "/release"), ("assign demo", "/rotation")):
        _, _, url = await both.slack.command(text, command=command)
        await both.slack.reply(url)
    paged = await both.command("page", user=ALICE_D, release="demo", message="the database is down")
    assert embed_text(paged).startswith("Page #1 sent to bob (pilot of demo#1).")
    dm = await both.discord.wait_until(
        lambda: both.discord.dm_channels.get(BOB_D) and both.discord.messages.get(both.discord.dm_channels[BOB_D]["id"])
    )
    assert dm[0]["content"] == f"<@{BOB_D}>"  # the mention that notifies, outside the embed
    assert dm[0]["embeds"][0]["description"].startswith("Page #1 for demo#1: the database is down")
    assert dm[0]["components"][0]["components"][0]["custom_id"] == "tower:/ack 1"
    # Slack too (before the ack: an acknowledged page stops sending what has not gone out yet)
    slack_dm = await both.slack.fake.wait_for_call("conversations.open", timeout=30)
    assert slack_dm.params["users"] == "U0DEMOBOB"
    clicked = await both.discord.send_interaction(user_id=BOB_D, kind=3, custom_id="tower:/ack 1")
    await both.discord.wait_until(lambda: answered(clicked))
    assert embed_text(clicked).startswith("Acknowledged page #1 for demo#1")


async def test_a_storm_of_rate_limits_and_server_errors_is_waited_out_and_posts_once(both):
    """Both platforms answer 429 again and again, then 5xx, then recover: each team channel gets its
    message exactly once, after a bounded number of attempts."""
    slack = both.slack.fake
    slack.rate_limit_next("chat.postMessage", retry_after=1, count=3)
    slack.fail_next("chat.postMessage", status=503, count=2)
    both.discord.rate_limit_next("POST", rf"/channels/{CHANNEL}/messages$", retry_after=0.2, count=4)
    both.discord.fail_next("POST", rf"/channels/{CHANNEL}/messages$", status=502, count=2)
    await both.slack.reply((await both.slack.command("new demo"))[2])  # from Slack's team channel: the others hear
    await _until(lambda: both.discord.messages.get(CHANNEL) and slack.messages.get(OTHER))
    await asyncio.sleep(1.5)  # long enough for any stray retry to land
    assert len(slack.messages[OTHER]) == 1 and len(both.discord.messages[CHANNEL]) == 1
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 429, 503, 503, 200]
    discord_calls = [
        c.status for c in both.discord.calls if c.method == "POST" and c.path.endswith(f"/channels/{CHANNEL}/messages")
    ]
    assert discord_calls.count(200) == 1 and len(discord_calls) <= 8


async def test_a_platform_that_keeps_failing_is_retried_a_bounded_number_of_times(both, clock):
    slack = both.slack.fake
    slack.fail_next("chat.postMessage", status=503, count=1000)
    await both.command("release new", project="demo")
    await _until(lambda: len(slack.calls_to("chat.postMessage")) >= 8)  # each channel: once, then 3 retries in place
    await asyncio.sleep(1.5)
    assert len(slack.calls_to("chat.postMessage")) == 8  # then the messages wait, rescheduled
    async with both.db.read() as s:
        rows = [*await outbox.all_for(s, f"slack:{TEAM}"), *await outbox.all_for(s, f"slack:{OTHER}")]
    assert [(r.state, r.attempts) for r in rows] == [("pending", 1)] * 2
    assert all("503" in (r.last_error or "") and r.next_attempt_at > clock.now() for r in rows)


async def _until(check, timeout: float = 40) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_hints_show_discords_option_form(both):
    await both.command("release new", project="demo")
    help_ = await both.command("help", command="release")
    assert (
        help_.replies[-1]["embeds"][0]["footer"]["text"] == "Type /help command:release new for one of them in detail."
    )
    assert "`/release abort release:RELEASE reason:REASON`" in embed_text(help_)
    missing = await both.command("release status", release="demo#9")
    assert (
        embed_text(missing)
        == "`demo#9` is not a release of demo. `/release list project:demo all:True` shows them all."
    )
    _, _, url = await both.slack.command("abort demo --reason wrong")  # the team is told on Discord too
    await both.slack.reply(url)
    told = await both.discord.wait_for_call("POST", rf"/channels/{CHANNEL}/messages")
    assert told.json["embeds"][0]["footer"]["text"] == "/release status release:demo#1"


BUSY = "Tower is busy, nothing was changed, try again in a minute."


def deferred_privately(interaction) -> bool:
    first = interaction.callbacks[0]
    return first["type"] == 5 and bool((first.get("data") or {}).get("flags", 0) & 64)


async def test_a_change_the_caller_may_not_make_is_deferred_privately(both):
    refused = await both.command("release new", user=BOB_D, project="demo")
    assert deferred_privately(refused), refused.callbacks  # nobody saw a public "thinking…"
    assert "Only release managers (alice) may run `/release new`" in embed_text(refused)
    stranger = await both.command("release abort", user=STRANGER_D, release="demo", reason="x")
    assert deferred_privately(stranger) and "Tower doesn't know you" in embed_text(stranger)
    allowed = await both.command("release new", user=ALICE_D, project="demo")
    assert not deferred_privately(allowed) and embed_text(allowed).startswith("Opened demo#1")


async def test_a_button_that_made_a_change_is_greyed_out(both):
    for text, command in (("new demo", "/release"), ("assign demo", "/rotation")):
        _, _, url = await both.slack.command(text, command=command)
        await both.slack.reply(url)
    await both.command("page", user=ALICE_D, release="demo", message="the database is down")
    dm = await both.discord.wait_until(
        lambda: both.discord.dm_channels.get(BOB_D) and both.discord.messages.get(both.discord.dm_channels[BOB_D]["id"])
    )
    clicked = await both.discord.send_interaction(user_id=BOB_D, kind=3, custom_id="tower:/ack 1", dm=True)
    await both.discord.wait_until(lambda: answered(clicked))
    assert embed_text(clicked).startswith("Acknowledged page #1")
    await both.discord.wait_until(lambda: dm[0]["components"][0]["components"][0].get("disabled"))


async def test_a_button_that_only_reads_stays_clickable(both):
    opened = await both.command("release new", user=ALICE_D, project="demo")
    status = next(b for b in opened.replies[-1]["components"][0]["components"] if b["label"] == "Status")
    looked = await both.discord.send_interaction(user_id=BOB_D, kind=3, custom_id=status["custom_id"])
    await both.discord.wait_until(lambda: answered(looked))
    assert embed_text(looked).startswith("demo#1: planning")
    assert not any(b.get("disabled") for b in opened.replies[-1]["components"][0]["components"])


async def test_a_private_answer_whose_interaction_expired_arrives_as_a_direct_message(both):
    both.discord.fail_next("PATCH", r"/webhooks/.*/messages/@original", status=404)
    await both.discord.send_interaction(user_id=ALICE_D, name="release status", options=[])
    dm = await both.discord.wait_until(
        lambda: (
            both.discord.dm_channels.get(ALICE_D) and both.discord.messages.get(both.discord.dm_channels[ALICE_D]["id"])
        )
    )
    assert dm[0]["embeds"][0]["description"] == "No release is open."
    assert not [m for ms in both.discord.messages.values() for m in ms if m not in dm]  # no channel saw it


async def test_beyond_the_backlog_limit_the_acknowledgement_says_busy_and_nothing_runs(both):
    backlog = both.service.discord.backlog
    while backlog.admit():  # the backlog is full: commands acknowledged and not finished
        pass
    before = await snapshot(both.db)
    interaction = await both.discord.send_interaction(
        user_id=ALICE_D, name="release new", options=[{"name": "project", "value": "demo"}]
    )
    await both.discord.wait_until(lambda: interaction.callbacks)
    (callback,) = interaction.callbacks
    assert callback["type"] == 4 and callback["data"]["content"] == BUSY and callback["data"]["flags"] & 64
    status, body, _ = await both.slack.command("new demo")
    assert status == 200 and BUSY in body
    assert await snapshot(both.db) == before
    backlog.pending = 0  # the commands finished: the next one runs
    opened = await both.command("release new", user=ALICE_D, project="demo")
    assert embed_text(opened).startswith("Opened demo#1")
