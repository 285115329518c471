"""Commands from chat run on the command worker's thread: an acknowledgement (Slack) or a defer
(Discord) is sent while the worker is still busy with earlier work, and the reply follows once it
is free; the command runs once, as the person who sent it."""

import asyncio
import threading

from storage.queries import releases
from tests import test_discord
from tests.test_discord import ALICE_D, answered, embed_text

both = test_discord.both  # Tower's service with Slack and Discord, against their fakes


def occupy(worker) -> threading.Event:
    """Keep the worker's thread busy (as with a long command) until the returned event is set."""
    free = threading.Event()

    async def busy() -> None:
        free.wait(30)  # blocks the worker's loop, as CPU-bound work would

    asyncio.run_coroutine_threadsafe(busy(), worker._loop)
    return free


async def test_slack_is_acknowledged_while_the_worker_is_busy_and_answered_after(both):
    free = occupy(both.service.worker)
    try:
        status, _, url = await asyncio.wait_for(both.slack.command("new demo"), 10)
        assert status == 200  # acknowledged: the worker has not run anything yet
        assert not both.slack.fake.responses.get(url)
    finally:
        free.set()
    answer = await both.slack.reply(url)
    assert "Opened demo#1" in str(answer)
    async with both.db.read() as session:
        assert len(await releases.listing(session)) == 1


async def test_discord_is_deferred_while_the_worker_is_busy_and_answered_after(both):
    free = occupy(both.service.worker)
    try:
        interaction = await both.discord.send_interaction(
            user_id=ALICE_D, name="release new", options=[{"name": "project", "value": "demo"}]
        )
        await both.discord.wait_until(lambda: interaction.callbacks, timeout=10)
        assert interaction.callbacks[0]["type"] == 5 and not answered(interaction)
    finally:
        free.set()
    await both.discord.wait_until(lambda: answered(interaction))
    assert embed_text(interaction).startswith("Opened demo#1")


def test_tower_run_freezes_what_start_up_built_out_of_the_collectors_sight():
    import gc

    from bot.service import GC_THRESHOLDS, settle_garbage_collector

    before = gc.get_threshold()
    try:
        settle_garbage_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
