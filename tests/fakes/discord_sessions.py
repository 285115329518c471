"""The local Discord gateway's connections and sessions: a session per shard, its numbered dispatches
kept for RESUME, and the connection its events go to."""

from __future__ import annotations

import uuid

from aiohttp import web

from tests.fakes import discord_payloads as P
from tests.fakes.discord_records import JSON


class GatewayConn:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request):
        self.ws, self.request = ws, request
        self.authed = False
        self.ready = False  # READY or RESUMED sent on this connection
        self.dropped = False  # closed by the fake, not by the client
        self.session: GatewaySession | None = None  # the session this connection identified or resumed


class GatewaySession:
    """One gateway session: of one shard, or of an unsharded client (shard 0 of 1). Its dispatches are
    numbered and kept, for RESUME."""

    def __init__(self, shard_id: int, shard_count: int):
        self.shard_id, self.shard_count = shard_id, shard_count
        self.id: str | None = uuid.uuid4().hex  # None once ended: it can't be resumed and gets no events
        self.seq = 0
        self.log: list[JSON] = []
        self.live: GatewayConn | None = None  # the connection its dispatches go to

    def owns(self, guild_id: str | None) -> bool:
        """Discord sends a guild's events to its shard only; events outside guilds (DMs) to shard 0."""
        if guild_id is None:
            return self.shard_id == 0
        return P.shard_of(guild_id, self.shard_count) == self.shard_id
