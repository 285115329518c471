"""Tower's real service (HTTP server, courier, Slack and Discord adapters) against local fakes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.app import open_tower
from bot.config import ChatEnvironment
from bot.service import Service
from commands.engine.settings import Settings
from tests.fakes.slack_requests import block_action_body, post_signed, slash_command_body
from tests.fakes.slack_server import FakeSlack
from tests.support import make_settings

SIGNING_SECRET = "test-signing-secret"
SLACK_TOKEN = "xoxb-test-token"
TEAM = "C0TEAM00001"
OTHER = "C0OTHER0001"
ALICE, BOB = "U0DEMOALICE", "U0DEMOBOB"


def platform_settings(data_dir, *, discord_channel: str | None = None) -> Settings:
    settings = make_settings(data_dir)
    data = settings.model_dump()
    team = [f"slack:{TEAM}", f"slack:{OTHER}"] + ([f"discord:{discord_channel}"] if discord_channel else [])
    data["projects"]["demo"]["channels"] = {"team": team, "announce": []}
    data["tower"]["http_port"] = 0
    return Settings.model_validate(data)


@dataclass
class SlackSide:
    fake: FakeSlack
    service: Service

    @property
    def events_url(self) -> str:
        return f"http://127.0.0.1:{self.service.port}/slack/events"

    async def command(
        self,
        text: str,
        *,
        user: str = ALICE,
        channel: str = TEAM,
        command: str = "/release",
        secret: str = SIGNING_SECRET,
        timestamp: int | None = None,
    ):
        """Send a slash command as Slack would. Returns (HTTP status, body, response_url)."""
        url = self.fake.new_response_url()
        body = slash_command_body(command=command, text=text, user_id=user, channel_id=channel, response_url=url)
        status, _, text_body = await post_signed(self.events_url, secret, body, timestamp=timestamp)
        return status, text_body, url

    async def reply(self, response_url: str) -> dict:
        (answer,) = await self.fake.wait_for_response(response_url)
        return answer

    async def click(self, value: str, *, user: str = ALICE, channel: str = TEAM):
        url = self.fake.new_response_url()
        body = block_action_body(
            action_id="tower_run_0", value=value, user_id=user, channel_id=channel, response_url=url
        )
        status, _, _ = await post_signed(self.events_url, SIGNING_SECRET, body)
        return status, url


def headline(answer: dict) -> str:
    """The first block's text of a Slack message, as a person reads it."""
    return answer["blocks"][0]["text"]["text"]


def block_texts(answer: dict) -> str:
    return json.dumps(answer["blocks"])


async def start_service(settings: Settings, env: dict[str, str], clock=None) -> Service:
    tower = await open_tower(settings, env, clock=clock)
    service = Service(tower, ChatEnvironment.read(env, settings))
    await service.start()
    return service
