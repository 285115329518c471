"""Interactions users make in the local Discord, mixed into ``FakeDiscord``: slash commands (resolved
against the registered commands, with typed options and resolved users), autocomplete, and button
clicks on messages the bot posted, each dispatched as INTERACTION_CREATE and recorded as an
``Interaction`` that the REST side then acknowledges and answers.

It relies on what ``FakeDiscord`` has: ``ids``, ``guild_id``, ``channel_id``, ``bot``, ``bot_user_id``,
``commands``, ``guild_channels``, ``roles``, ``interactions``, ``messages``, ``application_id``, ``_channel``,
``_member``, ``_user``, ``_dm_channel`` and ``dispatch``."""

from __future__ import annotations

import asyncio
import json
import secrets

from tests.fakes import discord_payloads as P
from tests.fakes.discord_records import JSON, Interaction


class DiscordInteractions:
    def find_command(self, name: str, guild_id: str | None, cmd_type: int = 1) -> JSON | None:
        """A registered command as Discord resolves it: the guild's first, then the global one."""
        for scope in ([guild_id] if guild_id else []) + [None]:
            for cmd in self.commands.get(scope, []):
                if cmd["name"] == name and cmd["type"] == cmd_type:
                    return cmd
        return None

    async def send_interaction(
        self,
        *,
        user_id: str,
        name: str = "",
        options: list[JSON] | None = None,
        kind: int = 2,
        custom_id: str | None = None,
        channel_id: str | None = None,
        guild_id: str | None = None,
        dm: bool = False,
        component_type: int = 2,
        values: list[str] | None = None,
        message_id: str | None = None,
        permissions: str | None = None,
    ) -> Interaction:
        """Dispatch INTERACTION_CREATE as a user invoking something.

        kind 2 (command) / 4 (autocomplete): ``name`` may be "group sub" or "group sub leaf", ``options`` then
        are the leaf options ({"name", "value"[, "focused"]}; types come from the registered command), or
        give Discord's nested options yourself. The command must have been registered (synced) — Discord
        cannot deliver an unknown one. kind 3 (component): ``custom_id`` of a button (or a select with
        ``values``) on ``message_id``, by default the newest message carrying that custom_id. In a guild
        (``guild_id``, by default the first) it happens in ``channel_id``, by default the guild's text channel."""
        guild = None if dm else (guild_id or self.guild_id)
        if dm:
            channel = await self._dm_channel(user_id)
        else:
            where = channel_id or self.guild_channels.get(guild, self.channel_id)
            channel = self._channel(where) or P.text_channel(where, guild, "channel")
        if kind in (2, 4):
            data = self._command_data(name, options or [], guild)
            message_obj = None
        elif kind == 3:
            if custom_id is None:
                raise ValueError("a component interaction needs custom_id")
            data = {"custom_id": custom_id, "component_type": component_type}
            if values is not None:
                data["values"] = values
            message_obj = self._component_message(custom_id, message_id, channel["id"], guild)
            home = self._channel(message_obj["channel_id"])
            if channel_id is None and home is not None and ("guild_id" in home) == (guild is not None):
                channel = home  # the interaction happens where the message is
        else:
            raise ValueError(f"unsupported interaction kind {kind}")
        invoker = self._member(user_id) if guild else self._user(user_id)
        everyone = P.ALL_PERMISSIONS if user_id == self.bot_user_id else P.EVERYONE_PERMISSIONS
        interaction_id, token = self.ids.next(), "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(60)
        payload = P.interaction(
            interaction_id=interaction_id,
            app_id=self.application_id,
            kind=kind,
            token=token,
            data=data,
            channel=channel,
            guild_id=guild,
            invoker=invoker,
            permissions=permissions or everyone,
            message_obj=json.loads(json.dumps(message_obj)) if message_obj else None,
        )
        record = Interaction(interaction_id, token, payload, asyncio.get_running_loop().time())
        if kind == 3:
            record.original = message_obj  # @original of a component interaction is the message it sits on
        self.interactions[interaction_id] = record
        await self.dispatch("INTERACTION_CREATE", payload)
        return record

    def _command_data(self, name: str, options: list[JSON], guild_id: str | None) -> JSON:
        root, *path = name.split()
        cmd = self.find_command(root, guild_id)
        if cmd is None:
            raise LookupError(f"/{root} is not registered for guild {guild_id} or globally; sync the tree first")
        schema, chain = cmd.get("options", []), []
        for part in path:
            sub = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if sub is None:
                raise LookupError(f"/{name}: {part!r} is not a subcommand of the registered command")
            chain.append(sub)
            schema = sub.get("options", [])
        leaf = []
        for opt in options:
            opt = dict(opt)
            if "type" not in opt:
                spec = next((o for o in schema if o["name"] == opt["name"]), None)
                if spec is None:
                    raise LookupError(f"/{name} has no option {opt['name']!r}")
                opt["type"] = spec["type"]
            leaf.append(opt)
        for sub in reversed(chain):  # wrap leaf options in their subcommand, then the group
            leaf = [{"type": sub["type"], "name": sub["name"], "options": leaf}]
        data: JSON = {"id": cmd["id"], "name": root, "type": 1, "options": leaf}
        if "guild_id" in cmd:
            data["guild_id"] = cmd["guild_id"]  # discord.py looks guild commands up by this
        resolved = self._resolved(leaf)
        if resolved:
            data["resolved"] = resolved
        return data

    def _resolved(self, options: list[JSON]) -> JSON:
        out: JSON = {}
        for opt in options:
            if opt["type"] in (1, 2):
                for key, value in self._resolved(opt.get("options", [])).items():
                    out.setdefault(key, {}).update(value)
            elif opt["type"] in (6, 9) and str(opt["value"]) not in self.roles:  # user (or mentionable user)
                uid = str(opt["value"])
                out.setdefault("users", {})[uid] = self._user(uid)
                m = {k: v for k, v in self._member(uid).items() if k != "user"}
                out.setdefault("members", {})[uid] = {**m, "permissions": P.EVERYONE_PERMISSIONS}
            elif opt["type"] in (8, 9):
                rid = str(opt["value"])
                out.setdefault("roles", {})[rid] = P.role(rid, self.roles.get(rid, "role"), position=1)
            elif opt["type"] == 7 and (ch := self._channel(str(opt["value"]))):
                out.setdefault("channels", {})[ch["id"]] = {**ch, "permissions": P.ALL_PERMISSIONS}
        return out

    def _component_message(self, custom_id: str, message_id: str | None, channel_id: str, guild: str | None) -> JSON:
        candidates = [m for ms in self.messages.values() for m in ms] + [
            m for i in self.interactions.values() for m in ([i.original] if i.original else []) + i.followups
        ]
        needle = f'"custom_id": {json.dumps(custom_id)}'
        for msg in sorted(candidates, key=lambda m: int(m["id"]), reverse=True):
            if msg["id"] == message_id or (message_id is None and needle in json.dumps(msg["components"])):
                return msg
        button = {"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}
        return P.message(
            message_id=message_id or self.ids.next(),
            channel_id=channel_id,
            author=self.bot,
            guild_id=guild,
            body={"content": "", "components": [{"type": 1, "components": [button]}]},
        )
