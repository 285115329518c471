"""Three replicas on PostgreSQL deliver one outbox: on a fast rehearsal clock nothing is posted
twice; a sender killed before or after Slack took its message strands nothing — every message
goes out once, page steps in order, and a page's history says what was really posted."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from commands.engine import outbox as commands_outbox
from commands.engine.reply import Reply
from storage.queries import outbox, pages
from tests.fakes.slack_server import FakeSlack
from tests.replicas import ReplicaProcess
from tests.shell_process import tower_env

TEAM, TOKEN, SECRET = "C0TEAM00001", "xoxb-test-token", "test-signing-secret"
START = datetime(2026, 11, 2, 10, tzinfo=UTC)


def start_replicas(tmp_path, db_target, slack: FakeSlack, extra: dict[str, str] | None = None) -> list[ReplicaProcess]:
    replicas = []
    for name in ("a", "b", "c"):
        env = tower_env(
            tmp_path / "data",
            {
                **db_target.env(),
                "TOWER_ELECTION_SECONDS": "0.5",
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url_for(name),  # Slack's calls say which replica made them
                **(extra or {}),
            },
        )
        replicas.append(ReplicaProcess(name, tmp_path, env))
    return replicas


async def queue(database, texts_and_keys: list[tuple[str, str]], now: datetime) -> None:
    async with database.write() as s:
        for text, key in texts_and_keys:
            await commands_outbox.post(s, f"slack:{TEAM}", Reply(text=text), key=key, now=now)


def posted(slack: FakeSlack) -> list[str]:
    return [m["text"] for m in slack.messages.get(TEAM, [])]


async def until(check, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def states(database, keys: list[str]) -> list[str]:
    async with database.read() as s:
        return [(await outbox.by_key(s, f"{key}@slack:{TEAM}")).state for key in keys]


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_on_a_fast_rehearsal_clock_three_replicas_post_each_message_once(tmp_path, db_target, database):
    async with FakeSlack(bot_token=TOKEN) as slack:
        rehearsal = f"{START.isoformat()} {time.time():.3f} 3600"  # an hour a second: a 2-minute lease is 33 ms
        replicas = start_replicas(tmp_path, db_target, slack, {"TOWER_REHEARSAL_CLOCK": rehearsal})
        try:
            for replica in replicas:
                await asyncio.to_thread(replica.wait_up)
            burst = [(f"notice {n}", f"burst:{n}") for n in range(5)]
            await queue(database, burst, START)  # Slack paces them a second apart
            await until(lambda: len(posted(slack)) >= 5, timeout=30)
            await asyncio.sleep(1.5)  # a duplicate would come within a second of its twin
            assert posted(slack) == [text for text, _ in burst]
        finally:
            codes = [await asyncio.to_thread(r.stop) for r in replicas]
    assert codes == [0, 0, 0], [r.errors() for r in replicas]


@pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)
async def test_senders_killed_before_and_after_slack_took_a_message_strand_nothing(tmp_path, db_target, database):
    async with FakeSlack(bot_token=TOKEN) as slack:
        replicas = start_replicas(tmp_path, db_target, slack)
        by_name = {r.name: r for r in replicas}
        try:
            for replica in replicas:
                await asyncio.to_thread(replica.wait_up)

            # Killed BEFORE Slack took the message: the request is held unanswered, nothing posted.
            slack.hold_next("chat.postMessage", 60)
            steps = [(f"page 1 step {n}", f"page:1:step:{n}:team") for n in range(4)]
            await queue(database, [("routine notice", "notice:1"), *steps], datetime.now(UTC))
            held = await slack.wait_for_call("chat.postMessage", timeout=15)
            assert held.params["text"] == "page 1 step 0"  # pages go before routine notices
            killed_at = time.monotonic()
            by_name[held.via].kill()
            await until(lambda: posted(slack), timeout=15)
            assert time.monotonic() - killed_at < 5  # its claim died with it, not two minutes later
            await until(lambda: len(posted(slack)) == 5, timeout=15)
            assert posted(slack) == [
                "page 1 step 0",
                "page 1 step 1",
                "page 1 step 2",
                "page 1 step 3",
                "routine notice",
            ]
            assert await states(database, [key for _, key in steps]) == ["sent"] * 4

            # Killed AFTER Slack took it (the answer never came back), and the page acknowledged
            # meanwhile: the step that went out is recorded as sent; the others never go out.
            slack.delay_next("chat.postMessage", 60)
            steps = [(f"page 2 step {n}", f"page:2:step:{n}:team") for n in range(3)]
            await queue(database, [*steps, ("another notice", "notice:2")], datetime.now(UTC))
            await until(lambda: "page 2 step 0" in posted(slack), timeout=15)
            (sender,) = [c.via for c in slack.calls_to("chat.postMessage") if c.params["text"] == "page 2 step 0"]
            async with database.write() as s:  # what /ack does
                await pages.cancel_undelivered(s, 2)
            by_name[sender].kill()
            await until(lambda: "another notice" in posted(slack), timeout=15)
            await asyncio.sleep(1.0)
            assert posted(slack)[5:] == ["page 2 step 0", "another notice"]
            assert await states(database, [key for _, key in steps]) == ["sent", "cancelled", "cancelled"]
        finally:
            codes = {r.name: await asyncio.to_thread(r.stop) for r in replicas}
    assert sorted(codes.values()) == [-9, -9, 0], [r.errors() for r in replicas]
