"""Discord: interaction received → defer sent, p50/p99, Tower against a bare discord.py client that
only defers, measured in the same run; and the resident memory of `tower run` with both chat
adapters connected (target: under 150 MB), next to the bare client's.

    python -m bench.discord_defer [--interactions 1000]

Each app runs as a real process connected to its own fake Discord (in this process); the time is
taken at the fake, from dispatching INTERACTION_CREATE to receiving the interaction callback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import processes
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.slack_server import FakeSlack

GUILD = "800000000000000001"
ALICE = "100000000000000001"
MEMORY_TARGET_MB = 150


def tower_argv() -> list[str]:
    script = Path(sys.executable).parent / "tower"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(fake: FakeDiscord, count: int, concurrency: int) -> list[float]:
    latencies: list[float] = []

    async def one() -> None:
        interaction = await fake.send_interaction(
            user_id=ALICE, name="release status", options=[{"name": "release", "value": "demo"}]
        )
        await fake.wait_until(lambda: interaction.callbacks, timeout=30)
        callback = next(c for c in fake.calls if c.path.startswith(f"/interactions/{interaction.id}/"))
        latencies.append(callback.at - interaction.dispatched_at)
        await fake.wait_until(lambda: interaction.edits, timeout=30)

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    for _ in range(10):
        await one()
    latencies.clear()
    share = [count // concurrency + (i < count % concurrency) for i in range(concurrency)]
    await asyncio.gather(*(worker(n) for n in share))
    return latencies


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def wait_connected(fake: FakeDiscord, proc: asyncio.subprocess.Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not fake.commands.get(GUILD):
        if proc.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError("the app did not connect and sync its commands")
        await asyncio.sleep(0.1)
    await fake.wait_ready(timeout=timeout)


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interactions", type=int, default=1000)  # p99 of 1,000: not 3 outliers
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    data = tempfile.mkdtemp(prefix="tower-bench-")
    tower_fake, bare_fake = FakeDiscord(members={ALICE: "alice"}), FakeDiscord(members={ALICE: "alice"})
    await tower_fake.start()
    await bare_fake.start()
    async with FakeSlack() as slack:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWER_", "SLACK_", "DISCORD_"))}
        env.update(
            TOWER_DATA_DIR=data,
            TOWER_HTTP_PORT="0",
            DISCORD_TOKEN=tower_fake.token,
            DISCORD_API_URL=tower_fake.api_url,
            DISCORD_GATEWAY_URL=tower_fake.gateway_url,
            DISCORD_GUILD_ID=GUILD,
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.api_url,
        )
        await processes.run([*tower_argv(), "shell", "--as", "alice", "-c", "/release new demo"], env)
        bare_argv = [sys.executable, "-m", "bench.bare_discord", bare_fake.api_url, bare_fake.gateway_url]
        try:
            async with (
                processes.started([*tower_argv(), "run"], env=env) as (tower,),
                processes.started([*bare_argv, bare_fake.token, GUILD]) as (bare,),
            ):
                await wait_connected(tower_fake, tower)
                await wait_connected(bare_fake, bare)
                idle = {"tower": rss_mb(tower.pid), "bare": rss_mb(bare.pid)}
                print(f"{'clients':>8} {'app':<6} {'p50 ms':>8} {'p99 ms':>8}")
                for concurrency in (1, 20):
                    results = {}
                    for name, fake in (("bare", bare_fake), ("tower", tower_fake)):
                        samples = results[name] = await measure(fake, args.interactions, concurrency)
                        print(f"{concurrency:>8} {name:<6} {pct(samples, 0.5):>8.2f} {pct(samples, 0.99):>8.2f}")
                    ratio = pct(results["tower"], 0.99) / pct(results["bare"], 0.99)
                    print(f"{concurrency:>8} p99 ratio tower/bare {ratio:.2f}x")
                busy = {"tower": rss_mb(tower.pid), "bare": rss_mb(bare.pid)}
                print(
                    f"resident memory: tower run (Slack + Discord) {idle['tower']:.1f} MB idle, {busy['tower']:.1f} MB "
                    f"after the load; bare discord.py client {busy['bare']:.1f} MB; "
                    f"ratio {busy['tower'] / busy['bare']:.2f}x; "
                    f"target < {MEMORY_TARGET_MB} MB: {'met' if busy['tower'] < MEMORY_TARGET_MB else 'MISSED'}"
                )
        finally:
            await tower_fake.stop()
            await bare_fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
