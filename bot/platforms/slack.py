"""The Slack adapter (slack-bolt, async): one slash command per command group, plus `/tower`
for anything, buttons as block actions. HTTP mode serves /slack/events on Tower's own aiohttp
server; Socket Mode connects out with an app token.

Every request is acknowledged first — before any database or network work — and the reply goes
to the request's response_url; when that has expired it falls back to a channel message.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.backlog import BUSY, Backlog
from bot.courier import Ambiguous, Permanent, RetryAfter, Transient
from bot.inflight import InFlight
from bot.platforms.slack_inbound import malformed, request_key, taken_before
from bot.platforms.slack_render import ACTION_PREFIX, to_blocks, unescape
from bot.platforms.slack_responses import ResponseUrls
from bot.worker import RunsCommands
from commands.engine.context import Caller
from commands.engine.outbox import post
from commands.engine.references import Show, by_first_word
from commands.engine.registry import Registry
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.settings import PersonSettings

if TYPE_CHECKING:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

log = logging.getLogger("tower.slack")
ALREADY_TAKEN = "Tower already took this request; it was not run again."
UNRECORDED = "Tower's database is unreachable or busy right now, so nothing was changed. Try again in a minute."


CATCH_ALL = "tower"  # `/tower release status demo`, and `/tower` alone for help
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "missing_scope",
    "msg_too_long",
    "invalid_blocks",
    "no_text",
    "restricted_action",
    "not_authed",
}


def api_base_url(url: str | None) -> str:
    """slack_sdk joins base_url and the method name by plain concatenation: it needs the slash."""
    if not url:
        return "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def slash_commands(registry: Registry, prefix: str = "") -> list[str]:
    """The slash commands Tower registers: each group, each top-level command but help (Slack
    keeps /help for itself), and the catch-all."""
    names = [*registry.groups(), *(s.name for s in registry.top_level() if s.name != "help"), CATCH_ALL]
    return [f"/{prefix}{n}" for n in names]


def runnable(registry: Registry, prefix: str = "") -> Show:
    """How a command reference runs in this workspace: `/release status demo` as it is (with the
    prefix) where Tower registered the command, otherwise through the catch-all: `/tower help`."""
    registered = set(slash_commands(registry, prefix))
    heads = [*registry.groups(), *(s.name for s in registry.top_level())]
    own = {h: f"/{prefix}{h}" for h in heads}
    return by_first_word({h: w if w in registered else f"/{prefix}{CATCH_ALL} {h}" for h, w in own.items()})


class SlackAdapter:
    def __init__(
        self,
        services: Services,
        dispatcher: RunsCommands,
        *,
        bot_token: str,
        signing_secret: str,
        api_url: str | None = None,
        command_prefix: str = "",
        on_change=None,
        backlog: Backlog | None = None,
    ):
        from slack_bolt.async_app import AsyncApp
        from slack_sdk.web.async_client import AsyncWebClient

        self.services = services
        self.dispatcher = dispatcher
        self.prefix = command_prefix
        self.show = runnable(services.registry, command_prefix)
        self.on_change = on_change or (lambda: None)
        # No automatic retries: the courier decides what is safe to retry, so nothing posts twice.
        self.client = AsyncWebClient(token=bot_token, base_url=api_base_url(api_url), retry_handlers=[])
        # Bolt takes the token from the client. Without a signing secret only Socket Mode works,
        # and /slack/events is not mounted at all, so nothing unsigned is ever accepted.
        self.app = AsyncApp(
            client=self.client,
            signing_secret=signing_secret or None,
            request_verification_enabled=bool(signing_secret),
            # Answer Slack when the listener returns, not at Bolt's next 10 ms poll for the ack: the
            # listener acks and hands the rest to a task (_after_ack), so it returns at once.
            process_before_response=True,
        )
        for command in slash_commands(services.registry, command_prefix):
            self.app.command(command)(self._on_command)
        self.app.action(re.compile(f"^{ACTION_PREFIX}"))(self._on_button)
        self._socket_handler: AsyncSocketModeHandler | None = None
        self.in_flight = InFlight()
        self.backlog = backlog or Backlog(services.settings.tower.backlog_limit)
        self.responses = ResponseUrls()

    # -- inbound ---------------------------------------------------------------------------------
    async def handle_http(self, request: web.Request) -> web.Response:
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        problem = await malformed(request)
        if problem:
            log.info("slack: request refused (400): %s", problem)
            return web.json_response({"error": problem}, status=400)
        response = await self.app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _on_command(self, ack, body: dict, respond) -> None:
        respond = self.responses.respond_to(body, otherwise=respond)
        if not self.backlog.admit():
            await ack(text=BUSY, response_type="ephemeral")  # the answer is the acknowledgement itself
            return
        await ack()  # within Slack's 3 s, before anything slow
        self._after_ack(self._command(body, respond))

    async def _command(self, body: dict, respond) -> None:
        with self.backlog.place():
            if await self._first_time(body, respond):
                await self._run_command(body, respond)

    def _after_ack(self, work: Coroutine[Any, Any, None]) -> None:
        """Bolt answers Slack as soon as a listener returns (process_before_response): what comes
        after the acknowledgement goes on in a task of its own, which shutdown waits for."""
        self.in_flight.add(asyncio.create_task(_logged(work), name="slack command"))

    async def _run_command(self, body: dict, respond) -> None:
        name = body["command"].lstrip("/").removeprefix(self.prefix)
        text = unescape(body.get("text") or "").strip()
        line = f"/{text or 'help'}" if name == CATCH_ALL else f"/{name} {text}"
        caller = Caller("slack", body["user_id"], channel=f"slack:{body['channel_id']}", display=body.get("user_name"))
        reply = await self.dispatcher.run(line, caller)
        await self._answer(reply, respond, caller)

    async def _on_button(self, ack, body: dict, action: dict, respond) -> None:
        respond = self.responses.respond_to(body, otherwise=respond)
        await ack()
        self._after_ack(self._button(body, action, respond))

    async def _button(self, body: dict, action: dict, respond) -> None:
        if not self.backlog.admit():  # Slack shows nothing an action's acknowledgement says
            await respond(text=BUSY, response_type="ephemeral", replace_original=False)
            return
        with self.backlog.place():
            if await self._first_time(body, respond):
                await self._run_button(body, action, respond)

    async def _first_time(self, body: dict, respond) -> bool:
        """Is this request new? A signed request can be replayed within its five minutes, and Slack
        retries what it thinks timed out: the same trigger id is taken once, by any replica."""
        try:
            key = request_key(body)
            repeat = await self.dispatcher.call(lambda services: taken_before(services.db, key))
        except Exception as err:  # without the record, running it could run it twice
            log.warning("slack: could not record a request as taken: %s", type(err).__name__)
            await respond(text=UNRECORDED, response_type="ephemeral", replace_original=False)
            return False
        if repeat:
            log.info("slack: a request taken before came again; answered, not run")
            await respond(text=ALREADY_TAKEN, response_type="ephemeral", replace_original=False)
            return False
        return True

    async def _run_button(self, body: dict, action: dict, respond) -> None:
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id", "")
        caller = Caller("slack", body["user"]["id"], channel=f"slack:{channel}", display=body["user"].get("username"))
        reply = await self.dispatcher.run(action["value"], caller)
        await self._answer(reply, respond, caller)

    async def _answer(self, reply: Reply, respond, caller: Caller) -> None:
        text, blocks = to_blocks(reply, show=self.show)
        kind = "ephemeral" if reply.ephemeral else "in_channel"
        try:
            response = await respond(text=text, blocks=blocks, response_type=kind, replace_original=False)
            if response is not None and getattr(response, "status_code", 200) >= 400:
                raise RuntimeError(f"response_url answered {response.status_code}")
        except Exception as err:
            # The response_url expired (30 minutes, 5 uses): the result must still reach the person.
            log.info("slack: response_url failed (%s); falling back to a channel message", type(err).__name__)
            await self._fallback(reply, caller)
            self.on_change()
            return
        if not reply.ephemeral:
            self.on_change()  # a change may have queued messages; a read or a refusal queued none

    async def _fallback(self, reply: Reply, caller: Caller) -> None:
        channel_id = (caller.channel or "").removeprefix("slack:")
        text, blocks = to_blocks(reply, show=self.show)
        if reply.ephemeral:
            try:
                await self.client.chat_postEphemeral(channel=channel_id, user=caller.user_id, text=text, blocks=blocks)
            except Exception:
                log.warning("slack: could not deliver an ephemeral reply to %s", caller.label)
            return
        note = Reply(
            text=reply.text,
            mentions=[f"slack:{caller.user_id}"],  # the asker, by platform id: they may not be a configured person
            ok=reply.ok,
            fields=reply.fields,
            sections=reply.sections,
            buttons=reply.buttons,
            footer=reply.footer,
        )
        now = self.services.clock.now()
        async with self.services.db.write() as session:
            await post(session, caller.channel or "", note, key=f"fallback:{caller.label}:{now.isoformat()}", now=now)

    # -- Socket Mode -----------------------------------------------------------------------------
    async def connect_socket_mode(self, app_token: str, timeout: float = 30.0) -> None:
        """Connect out. slack_sdk retries a refused token forever in the background, so ask once
        ourselves first: a wrong token is then an error at start, not a silent loop."""
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
        from slack_sdk.errors import SlackApiError

        try:
            opened = await self.client.apps_connections_open(app_token=app_token)
        except SlackApiError as err:
            raise SocketModeRefused(str(err.response.get("error") or err.response.status_code)) from None
        self._socket_handler = AsyncSocketModeHandler(self.app, app_token)
        self._socket_handler.client.wss_uri = opened["url"]  # connect() uses it instead of asking again
        await asyncio.wait_for(self._socket_handler.connect_async(), timeout)

    async def close(self) -> None:
        if self._socket_handler is not None:
            await self._socket_handler.close_async()
        await self.in_flight.drain()
        await self.responses.close()


async def _logged(work: Coroutine[Any, Any, None]) -> None:
    try:
        await work
    except Exception:
        log.exception("slack: a command failed after its acknowledgement")


class SocketModeRefused(Exception):
    """Slack refused the app-level token; the message is Slack's error code."""


class SlackSender:
    """Posts outbox messages with chat.postMessage; the outbox key travels as message metadata,
    so after an ambiguous failure conversations.history tells whether it went out. A user id as the
    channel (slack-dm:U…) is a direct message, in the conversation Slack keeps for the two of us."""

    def __init__(self, client, people: Mapping[str, PersonSettings] | None = None, show: Show | None = None):
        self.client = client
        self.people = people or {}
        self.show = show
        self._dms: dict[str, str] = {}

    async def _channel(self, channel_id: str) -> str:
        if not channel_id.startswith(("U", "W")):
            return channel_id
        if channel_id not in self._dms:
            opened = await self.client.conversations_open(users=channel_id)
            self._dms[channel_id] = opened["channel"]["id"]
        return self._dms[channel_id]

    def _mentions(self, reply: Reply) -> str:
        ids = [_slack_id(m, self.people) for m in reply.mentions]
        return " ".join(f"<@{i}>" for i in ids if i)

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        from slack_sdk.errors import SlackApiError

        text, blocks = to_blocks(reply, self._mentions(reply), self.show)
        try:
            response = await self.client.chat_postMessage(
                channel=await self._channel(channel_id),
                text=text,
                blocks=blocks,
                unfurl_links=False,
                metadata={"event_type": "tower_message", "event_payload": {"key": key}},
            )
        except SlackApiError as err:
            raise _classify(err) from None
        except Exception as err:
            raise _classify_transport(err) from None
        return response.get("ts")

    async def edit(self, channel_id: str, message_id: str, reply: Reply) -> str | None:
        from slack_sdk.errors import SlackApiError

        text, blocks = to_blocks(reply, self._mentions(reply), self.show)
        try:
            await self.client.chat_update(
                channel=await self._channel(channel_id), ts=message_id, text=text, blocks=blocks
            )
        except SlackApiError as err:
            raise _classify(err) from None
        except Exception as err:
            raise _classify_transport(err) from None
        return message_id

    async def find(self, channel_id: str, key: str, since) -> str | None:
        from slack_sdk.errors import SlackApiError

        try:
            response = await self.client.conversations_history(
                channel=await self._channel(channel_id),
                oldest=str(since.timestamp() - 60),
                include_all_metadata=True,
                limit=200,
            )
        except SlackApiError as err:
            raise _classify(err) from None
        except Exception as err:
            raise _classify_transport(err) from None
        for message in response.get("messages", []):
            if (message.get("metadata") or {}).get("event_payload", {}).get("key") == key:
                return message.get("ts")
        return None


def _slack_id(mention: str, people: Mapping[str, PersonSettings]) -> str | None:
    """A mention is a configured person's handle, or `slack:U…` for someone Tower knows only by id."""
    if mention.startswith("slack:"):
        user = mention.removeprefix("slack:")
        return user if re.fullmatch(r"[UW][A-Z0-9]{2,20}", user) else None
    person = people.get(mention)
    return person.slack if person and person.slack else None


def _classify(err) -> Exception:
    response = err.response
    status = getattr(response, "status_code", 200)
    if status == 429:
        return RetryAfter(float(response.headers.get("Retry-After", response.headers.get("retry-after", 1))))
    code = response.get("error") if hasattr(response, "get") else None
    if code in PERMANENT_ERRORS:
        return Permanent(code)
    return Transient(f"slack {status} {code}")


def _classify_transport(err: Exception) -> Exception:
    import aiohttp

    if isinstance(err, aiohttp.ClientConnectorError):
        return Transient(f"cannot connect: {type(err).__name__}")  # never reached Slack
    if isinstance(err, (asyncio.TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return Ambiguous(type(err).__name__)  # the request may have arrived
    return Ambiguous(type(err).__name__)
