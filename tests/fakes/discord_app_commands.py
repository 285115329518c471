"""Application commands on the local Discord (list, bulk overwrite, create, edit, delete), mixed into
``FakeDiscord`` through ``DiscordRest``. It reads FakeDiscord's ``application_id``, ``guild_channels``,
``ids`` and ``commands``, and answers refusals as Discord does (its `_error` serves the rest of the REST side too)."""

from __future__ import annotations

from typing import Any

from tests.fakes import discord_payloads as P
from tests.fakes import discord_validation as V
from tests.fakes.discord_records import JSON, RecordedCall


class DiscordAppCommands:
    application_id: str
    guild_channels: Any
    ids: Any
    commands: dict[str | None, list[JSON]]

    @staticmethod
    def _error(status: int, code: int, message: str) -> tuple[int, JSON]:
        return status, {"message": message, "code": code}

    def _command_scope(self, app: str, guild: str | None) -> tuple[int, JSON] | None:
        if app != self.application_id or (guild is not None and guild not in self.guild_channels):
            return self._error(403, 50001, "Missing Access")
        return None

    def _store_commands(self, guild: str | None, body: list[JSON]) -> list[JSON]:
        """Discord's bulk overwrite: same (name, type) keeps its id; a new version either way."""
        existing = {(c["name"], c["type"]): c["id"] for c in self.commands.get(guild, [])}
        version = self.ids.next()
        stored = [
            P.assign_command(
                c,
                command_id=existing.get((c["name"], c.get("type", 1))) or self.ids.next(),
                app_id=self.application_id,
                guild_id=guild,
                version=version,
            )
            for c in body
        ]
        self.commands[guild] = stored
        return stored

    async def _list_commands(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        return self._command_scope(app, guild) or (200, self.commands.get(guild, []))

    async def _put_commands(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        if not isinstance(call.json, list):
            return 400, V.form_error(V.field_error("MODEL_TYPE_CONVERT", "Only iterables may be used in a ListType"))
        if errors := V.command_errors(call.json):
            return 400, V.form_error(errors)
        return 200, self._store_commands(guild, call.json)

    async def _post_command(self, call: RecordedCall, app: str, guild: str | None) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        if errors := V.command_errors([call.json]):
            return 400, V.form_error(errors.get("0", errors))
        others = [
            c
            for c in self.commands.get(guild, [])
            if (c["name"], c["type"]) != (call.json["name"], call.json.get("type", 1))
        ]
        is_new = len(others) == len(self.commands.get(guild, []))
        stored = self._store_commands(guild, [*others, call.json])
        return (201 if is_new else 200), stored[-1]

    async def _command(self, call: RecordedCall, app: str, guild: str | None, cid: str) -> tuple[int, Any]:
        if denied := self._command_scope(app, guild):
            return denied
        scope = self.commands.get(guild, [])
        cmd = next((c for c in scope if c["id"] == cid), None)
        if cmd is None:
            return self._error(404, 10063, "Unknown application command")
        if call.method == "DELETE":
            self.commands[guild] = [c for c in scope if c is not cmd]
            return 204, None
        if call.method == "PATCH":
            cmd.update({k: v for k, v in (call.json or {}).items() if k != "id"}, version=self.ids.next())
        return 200, cmd
