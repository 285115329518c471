"""The baseline for the Discord benchmark: a bare discord.py client whose only command defers.

python -m bench.bare_discord API_URL GATEWAY_URL TOKEN GUILD_ID
"""

from __future__ import annotations

import asyncio
import sys

import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket


async def main(api_url: str, gateway_url: str, token: str, guild_id: str) -> None:
    discord.http.Route.BASE = api_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    intents = discord.Intents.none()
    intents.guilds = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.5)
    tree = app_commands.CommandTree(client)
    group = app_commands.Group(name="release", description="release")

    @group.command(name="status", description="status")
    async def status(interaction: discord.Interaction, release: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await interaction.edit_original_response(content="ok")

    tree.add_command(group, guild=discord.Object(int(guild_id)))
    await client.login(token)
    task = asyncio.create_task(client.connect())
    await client.wait_until_ready()
    await tree.sync(guild=discord.Object(int(guild_id)))
    print("ready", flush=True)
    await task


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
