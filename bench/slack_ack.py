"""Slack HTTP path: how fast Tower acknowledges signed `/release status` requests, at 1 and 50
concurrent clients, against a bare slack-bolt app that only acks, measured in the same run.
Target: Tower's p99 within 1.5x of the bare app's.

    python -m bench.slack_ack [--requests 400]   (--requests 1 is a quick smoke run)

Both apps run as real processes on 127.0.0.1; a fake Slack, in a process of its own, answers the
Web API and collects the replies Tower posts to response_url (in the load generator's process, the
replies' handling would be counted in Tower's acks: the bare app posts none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench import processes
from bench.fake_slack_process import FakeSlackClient
from tests.fakes.slack_requests import sign, slash_command_body

SECRET = "bench-signing-secret"
TOKEN = "xoxb-test-token"
TARGET_RATIO = 1.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.post(url, data="") as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)


def tower_argv() -> list[str]:
    script = Path(sys.executable).parent / "tower"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


async def measure(
    url: str, fake: FakeSlackClient, text: str, total: int, concurrency: int, busy: list[int] | None = None
) -> list[float]:
    """Ack latencies; `busy` gets one entry per request the app answered 'busy' in its ack."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one() -> None:
            body = slash_command_body(
                command="/release",
                text=text,
                user_id="U0DEMOALICE",
                channel_id="C0TEAM00001",
                response_url=await fake.response_url(session),
            )
            headers = {**sign(SECRET, body), "Content-Type": "application/x-www-form-urlencoded"}
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                acked = await response.read()
                assert response.status == 200, response.status
            if busy is not None and b"busy" in acked:
                busy.append(1)
            latencies.append(time.perf_counter() - started)

        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        share = [total // concurrency + (i < total % concurrency) for i in range(concurrency)]
        for _ in range(min(20, total)):  # warm-up: connections, first auth.test, caches
            await one()
        latencies.clear()
        await asyncio.gather(*(worker(n) for n in share))
    return latencies


async def settled_replies(fake: FakeSlackClient, quiet_s: float = 2.0, longest_s: float = 60.0) -> int:
    """The replies Tower posted, once no more have come for `quiet_s` (commands run on after their acks)."""
    deadline = time.monotonic() + longest_s
    count = -1
    while time.monotonic() < deadline:
        now = (await fake.stats())["responses"]
        if now == count:
            return count
        count = now
        await asyncio.sleep(quiet_s)
    return count


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    data = tempfile.mkdtemp(prefix="tower-bench-")
    try:
        await bench(args.requests, data)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return 0


async def bench(requests: int, data: str) -> None:
    """Both apps are stopped (their process groups, without blocking the loop the fake answers on)
    however this ends: done, failed, or interrupted."""
    fake = await FakeSlackClient.start(TOKEN)
    try:
        tower_port, bare_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TOWER_", "SLACK_", "DISCORD_"))}
        env.update(
            TOWER_DATA_DIR=data,
            TOWER_HTTP_PORT=str(tower_port),
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.api_url,
        )
        await processes.run([*tower_argv(), "shell", "--as", "alice", "-c", "/release new demo"], env)
        async with (
            processes.started([*tower_argv(), "run"], env=env),
            processes.started([sys.executable, "-m", "bench.bare_bolt", str(bare_port), fake.api_url]),
        ):
            tower_url = f"http://127.0.0.1:{tower_port}/slack/events"
            bare_url = f"http://127.0.0.1:{bare_port}/slack/events"
            await wait_http(tower_url)
            await wait_http(bare_url)
            print(f"{'clients':>8} {'app':<6} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
            busy: dict[str, list[int]] = {"bare": [], "tower": []}
            for concurrency in (1, 50):
                results = {}
                for name, url in (("bare", bare_url), ("tower", tower_url)):
                    samples = await measure(url, fake, "status demo", requests, concurrency, busy[name])
                    results[name] = samples
                    print(
                        f"{concurrency:>8} {name:<6} {pct(samples, 0.5):>8.2f} {pct(samples, 0.99):>8.2f} "
                        f"{statistics.mean(samples) * 1000:>8.2f}"
                    )
                ratio = pct(results["tower"], 0.99) / pct(results["bare"], 0.99)
                print(
                    f"{concurrency:>8} p99 ratio tower/bare {ratio:.2f}x  (target <= {TARGET_RATIO}x: "
                    f"{'met' if ratio <= TARGET_RATIO else 'MISSED'})"
                )
            replies = await settled_replies(fake)
            print(f"replies Tower posted to response_url: {replies}; requests it answered 'busy': {len(busy['tower'])}")
    finally:
        await fake.stop()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
