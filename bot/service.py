"""`tower run`: one process, one event loop — the HTTP server, the scheduler, the courier and
whichever chat adapters have their secrets — until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from aiohttp import web

from bot.app import StartupError, Tower, open_tower
from bot.backlog import Backlog
from bot.config import ChatEnvironment
from bot.courier import Courier
from bot.telemetry import Telemetry
from bot.web import Replica
from bot.worker import CommandWorker
from commands.engine.isolation import log_failure
from commands.engine.settings import Settings
from storage.database import redacted

if TYPE_CHECKING:
    from bot.platforms.discord import DiscordAdapter
    from bot.platforms.slack import SlackAdapter

log = logging.getLogger("tower")


class Service:
    def __init__(self, tower: Tower, chat: ChatEnvironment, env: Mapping[str, str] | None = None):
        from jobs.leader import Leadership
        from jobs.scheduler import Wakeups

        self.tower = tower
        self.chat = chat
        self.env = env or {}
        self._pagers: list = []
        self._publishing: asyncio.Task | None = None
        self._stopping = asyncio.Event()
        self.courier = Courier(
            tower.services.db, tower.services.clock, senders={}, settings=tower.settings, own_session=True
        )
        # Commands from chat and scheduled work run on their own thread: acknowledging never waits
        # for them (bot/worker.py).
        self.worker = CommandWorker(tower)
        self.wakeups = Wakeups(tower.services, on_work=self.courier.wake, run=self.worker.call)
        # Replicas share the database; the one holding the scheduler lock wakes the jobs and
        # publishes the pages, the others serve commands and deliver the outbox.
        every = tower.settings.tower.election_seconds
        self.leadership = Leadership(tower.services.db, on_gain=self._lead, on_loss=self._follow, retry_s=every)
        # Discord delivers each interaction to every connection of a bot: one replica holds the gateway.
        self.discord_role = Leadership(
            tower.services.db, on_gain=self._gain_discord, on_loss=self._lose_discord, retry_s=every, role="discord"
        )
        self.slack: SlackAdapter | None = None
        self.discord: DiscordAdapter | None = None
        self.telemetry = Telemetry(tower.services)
        # One backlog for both chat platforms: the work they feed is the same.
        self.backlog = Backlog(tower.settings.tower.backlog_limit)
        tower.dispatcher.observers.append(self.telemetry.record_command)
        self.replica = Replica(
            telemetry=self.telemetry,
            is_leader=lambda: self.leadership.is_leader,
            in_flight=self._in_flight,
            ready=False,
        )
        self.runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        from bot.web import build_web_app

        settings, services = self.tower.settings, self.tower.services
        await self.worker.start()
        if self.chat.slack_mode:
            from bot.platforms.slack import SlackAdapter, SlackSender

            assert self.chat.slack_bot_token, "slack_mode is set only with a bot token"
            self.slack = SlackAdapter(
                services,
                self.worker,
                bot_token=self.chat.slack_bot_token,
                signing_secret=self.chat.slack_signing_secret or "",
                api_url=self.chat.slack_api_url,
                command_prefix=settings.tower.slack_command_prefix,
                on_change=self.courier.wake,
                backlog=self.backlog,
            )
            sender = SlackSender(self.slack.client, settings.people, self.slack.show)
            self.courier.senders.update({"slack": sender, "slack-dm": sender})
        # The election comes first, so that the first /healthz already tells leader from standby.
        self.wakeups.start(paused=True)
        if await self.leadership.try_once():
            await self._lead()
        self.leadership.start()
        app = build_web_app(
            self.tower,
            self.wakeups,
            slack=self.slack if self.chat.slack_mode == "http" else None,
            courier_wake=self.courier.wake,
            replica=self.replica,
        )
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        host, port = settings.tower.http_host, settings.tower.http_port
        site = web.TCPSite(self.runner, host, port)
        try:
            await site.start()
        except OSError as err:
            raise StartupError(
                f"Can't listen on {host}:{port}: {err.strerror}. Set TOWER_HTTP_PORT to a free port."
            ) from None
        # aiohttp types it AbstractServer; the loop's create_server() makes a Server, which has sockets.
        server = cast("asyncio.Server | None", site._server)
        self.port = server.sockets[0].getsockname()[1] if server and server.sockets else port
        if self.chat.slack_mode == "socket":
            await self._connect_socket_mode()
        if self.chat.discord_token:
            if await self.discord_role.try_once():
                await self._start_discord()  # at start-up a refused token is an error, not a retry loop
            self.discord_role.start()
        self._start_pagers()
        self.courier.start()
        self.replica.ready = True
        self._report(host)

    def _in_flight(self) -> int:
        return sum(len(a.in_flight) for a in (self.slack, self.discord) if a is not None)

    async def _lead(self) -> None:
        self.wakeups.resume()
        if self.tower.settings.tower.pages_dir and self._publishing is None:
            self._stopping.clear()
            self._publishing = asyncio.create_task(self._publish_pages(), name="pages")

    async def _follow(self) -> None:
        await self.wakeups.pause()
        await self._stop_publishing()

    async def _stop_publishing(self) -> None:
        self._stopping.set()
        if self._publishing is not None:
            # Let a round in progress finish: cancelling it mid-query strands its connection.
            done, _ = await asyncio.wait({self._publishing}, timeout=10)
            if not done:
                self._publishing.cancel()
                await asyncio.gather(self._publishing, return_exceptions=True)
            self._publishing = None

    async def _connect_socket_mode(self) -> None:
        from bot.platforms.slack import SocketModeRefused

        assert self.slack is not None, "start() makes the Slack adapter before connecting it"
        assert self.chat.slack_app_token, "slack_mode 'socket' means an app token"
        try:
            await self.slack.connect_socket_mode(self.chat.slack_app_token)
        except SocketModeRefused as err:
            raise StartupError(
                f"Slack refused SLACK_APP_TOKEN ({err}): use the app-level token (xapp-…) with the "
                "connections:write scope."
            ) from None
        except (OSError, TimeoutError) as err:
            raise StartupError(f"Can't connect to Slack in Socket Mode: {type(err).__name__}") from None

    async def _gain_discord(self) -> None:
        try:
            await self._start_discord()
        except StartupError as err:
            log.warning("Discord: %s", err)
            await self._lose_discord()
            raise RuntimeError(str(err)) from None  # the election steps down and tries again later

    async def _lose_discord(self) -> None:
        discord_adapter, self.discord = self.discord, None
        for name in ("discord", "discord-dm"):
            self.courier.senders.pop(name, None)  # its outbox rows wait for the replica that takes over
        if discord_adapter is not None:
            await discord_adapter.close()

    async def _start_discord(self) -> None:
        import discord

        from bot.platforms.discord import DiscordAdapter, DiscordSender

        assert self.chat.discord_token, "the Discord role is held only with DISCORD_TOKEN"
        self.discord = DiscordAdapter(
            self.tower.services,
            self.worker,
            token=self.chat.discord_token,
            guild_ids=self.chat.discord_guild_ids,
            api_url=self.chat.discord_api_url,
            gateway_url=self.chat.discord_gateway_url,
            on_change=self.courier.wake,
            shard_count=self.tower.settings.tower.shard_count,
            backlog=self.backlog,
        )
        try:
            await self.discord.start()
        except discord.LoginFailure:
            raise StartupError("Discord refused DISCORD_TOKEN; check the bot token in the Developer Portal.") from None
        except (discord.HTTPException, OSError, TimeoutError) as err:
            raise StartupError(f"Can't connect to Discord: {type(err).__name__}: {err}") from None
        people = self.tower.settings.people
        self.courier.senders.update(
            {
                "discord": DiscordSender(self.discord.client, people, show=self.discord.show),
                "discord-dm": DiscordSender(self.discord.client, people, direct=True, show=self.discord.show),
            }
        )

    async def _publish_pages(self) -> None:
        from pathlib import Path

        from bot.pages.site import Publisher

        assert self.tower.settings.tower.pages_dir, "_lead publishes only with a pages_dir"
        pages_dir = Path(self.tower.settings.tower.pages_dir).expanduser()  # noqa: ASYNC240 (once, at start)
        publisher = Publisher(self.tower.services, pages_dir)
        while not self._stopping.is_set():
            try:
                await publisher.publish()
            except Exception as err:
                log_failure(log, "publishing the release pages failed; trying again", err)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.tower.settings.tower.tick_seconds)
            except TimeoutError:
                pass

    def _start_pagers(self) -> None:
        from bot.integrations.community import AnnounceWebhookSender
        from bot.integrations.pager import PagerDutySender, WebhookPagerSender

        projects = self.tower.settings.projects.values()
        if any(p.announce_webhooks for p in projects):
            self._pagers.append(AnnounceWebhookSender(self.tower.settings))
            self.courier.senders["announce-webhook"] = self._pagers[-1]
        if any(p.paging.pagerduty_routing_key_env for p in projects):
            self._pagers.append(PagerDutySender(self.tower.settings, self.env))
            self.courier.senders["pagerduty"] = self._pagers[-1]
        if any(p.paging.webhook_url for p in projects):
            self._pagers.append(WebhookPagerSender(self.tower.settings, self.env))
            self.courier.senders["pager-webhook"] = self._pagers[-1]

    def _report(self, host: str) -> None:
        settings = self.tower.settings
        log.info("Tower is running: config %s, database %s", settings.source, redacted(self.tower.services.db.url))
        role = "this replica runs the scheduler" if self.leadership.is_leader else "standby for the scheduler"
        log.info("HTTP on http://%s:%s (/healthz, /readyz, /metrics); %s", host, self.port, role)
        if self.chat.slack_mode == "http":
            log.info("Slack: HTTP mode, requests at /slack/events")
        elif self.chat.slack_mode == "socket":
            log.info("Slack: Socket Mode connected")
        else:
            log.info("Slack: off (%s)", self.chat.slack_missing())
        if self.discord is not None:
            where = ", ".join(self.chat.discord_guild_ids) or "all guilds (global commands)"
            log.info("Discord: connected as %s; commands synced to %s", self.discord.client.user, where)
        elif self.chat.discord_token:
            log.info("Discord: standby (another replica holds the gateway)")
        else:
            log.info("Discord: off (DISCORD_TOKEN is not set)")

    async def stop(self) -> None:
        log.info("shutting down")
        self.replica.draining = True  # /readyz turns 503 while in-flight commands finish
        grace = self.tower.settings.tower.drain_seconds
        if grace and self.replica.ready:
            await asyncio.sleep(grace)  # time for a load balancer to see /readyz and look elsewhere
        if self.runner is not None:
            for site in list(self.runner.sites):
                await site.stop()  # no new requests; those already in flight finish below
        await self.discord_role.stop()  # closes the gateway (letting its commands finish) if held
        if self.slack is not None:
            await self.slack.close()
        await self.wakeups.shutdown()
        await self.leadership.stop()
        await self._stop_publishing()
        await self.worker.stop()  # adapters drained, jobs finished: nothing is handed to it any more
        await self.courier.stop()
        for sender in self._pagers:
            await sender.close()
        if self.runner is not None:
            await self.runner.cleanup()
        await self.tower.close()
        log.info("stopped")


# Collections of the youngest generation this far apart: the commands' ORM work allocates fast.
GC_THRESHOLDS = (50_000, 50, 100)


def settle_garbage_collector() -> None:
    """Once started: what start-up built (modules, settings, clients) lives as long as the process,
    so it is frozen out of the collector's sight, and young collections run less often. A full
    collection that walked every object stopped both event loops for 50 to 100 ms, the worst
    acknowledgements under load."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(settings: Settings, env: Mapping[str, str]) -> None:
    tower = await open_tower(settings, env)
    service = Service(tower, ChatEnvironment.read(env, settings), env)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A signal during start-up (a slow or hanging connection) stops it too.
    starting = asyncio.create_task(service.start())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises a start-up error
            settle_garbage_collector()
            await stopping
    finally:
        for task in (starting, stopping):
            task.cancel()
        await asyncio.gather(starting, stopping, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await service.stop()
