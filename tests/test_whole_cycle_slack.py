"""The whole cycle from Slack: the same commands, through the real slack-bolt adapter and Tower's
service (scheduler, courier, local CI), against a fake Slack."""

import asyncio

from commands.engine.settings import Settings
from tests.fakes.slack_server import FakeSlack
from tests.platform_harness import BOB, OTHER, SIGNING_SECRET, SLACK_TOKEN, TEAM, SlackSide, headline, start_service
from tests.release_repos import repo_settings

ANNOUNCE = "C0ANNOUNCE1"


async def until(check, timeout=20.0):
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_a_release_from_open_to_announcement_in_slack(tmp_path, db_target):
    settings, _ = repo_settings(
        tmp_path,
        release_branch="main",
        simmer_days=0,
        checklist=[],
        blackout_weekdays=[],
        ci={"provider": "local", "command": "true"},
        channels={"team": [f"slack:{TEAM}", f"slack:{OTHER}"], "announce": [f"slack:{ANNOUNCE}"]},
    )
    data = settings.model_dump()
    data["tower"].update(http_port=0, tick_seconds=0.1)
    async with FakeSlack(bot_token=SLACK_TOKEN) as fake:
        env = {
            **db_target.env(),
            "SLACK_BOT_TOKEN": SLACK_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake.api_url,
        }
        service = await start_service(Settings.model_validate(data), env)
        slack = SlackSide(fake, service)
        try:

            async def say(command, text, user=None):
                _, _, url = await slack.command(text, command=command, **({"user": user} if user else {}))
                return headline(await slack.reply(url))

            assert await say("/release", "new demo") == "Opened demo#1 (planning)."
            assert (await say("/rotation", "assign demo")).startswith("Crew for demo#1: pilot bob")
            assert (await say("/release", "name demo --yes")).startswith("Named demo 1.3.0")
            assert (await say("/scope", "freeze demo", user=BOB)).startswith("Froze the scope")
            assert (await say("/rc", "cut demo")).startswith("Cut v1.3.0-rc1")
            assert await say("/deploy", "start demo") == "Deploying v1.3.0-rc1 to production."
            await until(lambda: any("simmer of demo 1.3.0 passed" in m["text"] for m in fake.messages.get(OTHER, [])))
            assert await say("/release", "ship demo", user=BOB) == "Shipped demo 1.3.0."
            await until(lambda: fake.messages.get(ANNOUNCE))
            (announcement,) = fake.messages[ANNOUNCE]
            assert announcement["text"].startswith("Demo 1.3.0 is out. Pausing block production.")
            assert announcement["metadata"]["event_payload"]["key"] == f"announce:1@slack:{ANNOUNCE}"
            status = await say("/release", "status demo@1.3.0")
            assert status == "demo 1.3.0: released"
        finally:
            await service.stop()
