"""Slack HTTP path under load on two replicas: the ack latency of two real `tower run` processes
sharing one PostgreSQL database, against bare slack-bolt apps that only ack, both measured in the
same run under the same load. Target: Tower's p99 within 2x of the bare apps', with no errors.

    python -m bench.replicas_load [--clients 50] [--seconds 10] [--rounds 2] [--write-share 0.1]

The load: signed slash commands from `--clients` concurrent clients, sent round-robin to the two
replicas for `--seconds` per round; mostly reads (`/release status demo` or `/release list`, at
random), and a `--write-share` of writes (`/scope add demo "..."`; 0 turns writes off). The time
measured is the HTTP ack: from sending POST /slack/events until its 200 response is read. Any other
status, a connection error or a timeout counts as an error.

The baseline is two bare slack-bolt apps (bench.bare_bolt) taking the same request stream
round-robin, so both sides have the same number of processes; the bare app only knows `/release`,
so writes reach it as `/release` with the same text. Rounds alternate baseline and Tower, so a burst
of noise on the machine does not land on one side only; after each Tower round the benchmark waits
until every acknowledged command has posted its reply, so Tower's leftover work never overlaps the
baseline's turn.

The database is a fresh schema, dropped at the end, in TOWER_BENCH_DATABASE_URL (default: a local
PostgreSQL, database "test"). The fake Slack (Web API and response_urls) runs in a process of its
own; the clients run in this one.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench import processes
from bench.fake_slack_process import FakeSlackClient
from bench.pg_schema import URL_ENV, fresh_schema
from bench.slack_ack import SECRET, TOKEN, free_port, pct, wait_http
from tests.fakes.slack_requests import sign, slash_command_body
from tests.replicas import ReplicaProcess
from tests.shell_process import run_tower, tower_env

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
BUSY = "Tower is busy"
TARGET_RATIO = 2.0  # Tower's p99 against the bare apps' p99, measured in the same run
USER, CHANNEL = "U0DEMOALICE", "C0TEAM00001"  # alice of the built-in demo: she may write
READS = ("/release", "status demo"), ("/release", "list")
REQUEST_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 30.0  # --pace reply: a command not answered within this counts as an error
WARMUP_SECONDS = 2.0
REPLY_WAIT_S = 120.0
MAX_LOG_LINES_SHOWN = 3


@dataclass
class Result:
    """One side's samples, pooled over the rounds."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    per_target: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    writes: int = 0
    shed: int = 0  # acknowledged with "Tower is busy": nothing runs, no reply is owed

    @property
    def owing(self) -> int:
        """Acknowledged requests that owe a reply."""
        return len(self.latencies) - self.shed

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def command_mix(write_share: float, seed: int) -> Iterator[tuple[str, str, bool]]:
    """(command, text, is_write) for each request: a read chosen at random, or with probability
    write_share a write. Random (seeded), so which command comes next has nothing to do with which
    replica's turn it is."""
    rng = random.Random(seed)
    while True:
        if rng.random() < write_share:
            yield "/scope", f'add demo "Load feature {rng.getrandbits(48):012x}"', True
        else:
            yield (*rng.choice(READS), False)


def signed_request(command: str, text: str, response_url: str) -> tuple[str, dict[str, str]]:
    body = slash_command_body(command=command, text=text, user_id=USER, channel_id=CHANNEL, response_url=response_url)
    return body, {**sign(SECRET, body), "Content-Type": "application/x-www-form-urlencoded"}


async def send_one(
    session: aiohttp.ClientSession, url: str, body: str, headers: dict[str, str], result: Result
) -> bool:
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            body_text = (await response.read()).decode(errors="replace")
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as err:
        result.errors[type(err).__name__] += 1
        return False
    if status == 200:
        result.latencies.append(time.perf_counter() - started)
        if BUSY in body_text:
            result.shed += 1
            return False  # answered in the acknowledgement: no reply follows
        return True
    result.errors[f"HTTP {status}"] += 1
    return False


async def run_load(
    result: Result,
    targets: list[str],
    fake: FakeSlackClient,
    *,
    clients: int,
    seconds: float,
    write_share: float,
    only_release: bool,
    wait_reply: bool = False,
) -> None:
    """`clients` workers, each sending its next request as soon as the last was answered — acked,
    or with `wait_reply` replied to (as a person types, reads the answer, types again) — until
    `seconds` have passed; targets are taken round-robin across all workers."""
    next_target, mix = itertools.cycle(targets), command_mix(write_share, seed=random.getrandbits(32))
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(deadline: float) -> None:
            while time.monotonic() < deadline:
                command, text, write = next(mix)
                response_url = await fake.response_url(session)
                body, headers = signed_request("/release" if only_release else command, text, response_url)
                url = next(next_target)
                result.per_target[url] += 1
                result.writes += write
                sent = await send_one(session, url, body, headers, result)
                if sent and wait_reply and not await fake.replied(session, response_url, REPLY_TIMEOUT_S):
                    result.errors["no reply"] += 1

        started = time.monotonic()
        await asyncio.gather(*(worker(started + seconds) for _ in range(clients)))
        result.seconds += time.monotonic() - started


async def warm_up(targets: list[str], fake: FakeSlackClient, only_release: bool) -> int:
    """Open connections, let bolt call auth.test, fill caches; nothing here is measured. Returns
    how many requests were acknowledged (each owes a reply)."""
    scratch = Result("warm-up")
    await run_load(scratch, targets, fake, clients=10, seconds=WARMUP_SECONDS, write_share=0, only_release=only_release)
    if scratch.errors:
        raise RuntimeError(f"warm-up failed: {dict(scratch.errors)}")
    return scratch.owing


async def wait_for_replies(fake: FakeSlackClient, expected: int) -> tuple[int, float]:
    """Wait until the fake Slack has `expected` replies; returns (replies, seconds waited)."""
    started = time.monotonic()
    while True:
        stats = await fake.stats()
        if stats["responses"] >= expected or time.monotonic() - started > REPLY_WAIT_S:
            return stats["responses"], time.monotonic() - started
        await asyncio.sleep(0.2)


def bare_apps(count: int, api_url: str) -> tuple[list[list[str]], list[str]]:
    """The bare apps' command lines and the addresses they will answer on."""
    ports = [free_port() for _ in range(count)]
    argvs = [[sys.executable, "-m", "bench.bare_bolt", str(port), api_url] for port in ports]
    return argvs, [f"http://127.0.0.1:{port}/slack/events" for port in ports]


def start_replicas(count: int, workdir: Path, env: dict[str, str]) -> list[ReplicaProcess]:
    """Create the demo release through the shell (which also migrates the schema), then start the replicas."""
    made = run_tower(["shell", "--as", "alice", "-c", "/release new demo"], cwd=workdir, env=env)
    if made.returncode != 0:
        raise RuntimeError(f"could not open the demo release: {made.stdout}{made.stderr}")
    replicas = [ReplicaProcess(f"replica-{n}", workdir, env) for n in range(1, count + 1)]
    for replica in replicas:
        replica.wait_up()
    return replicas


def print_results(results: dict[str, Result]) -> None:
    print(
        f"{'app':<6} {'requests':>9} {'errors':>7} {'writes':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"
    )
    for result in results.values():
        samples = result.latencies or [float("nan")]
        print(
            f"{result.name:<6} {result.requests:>9} {sum(result.errors.values()):>7} {result.writes:>7} "
            f"{result.throughput:>8.1f} {pct(samples, 0.5):>8.2f} {pct(samples, 0.99):>8.2f} "
            f"{max(samples) * 1000:>8.2f}"
        )
        if result.errors:
            print(f"       errors: {dict(result.errors)}")
        if result.shed:
            print(f"       answered 'Tower is busy' in the acknowledgement (nothing run): {result.shed}")
        split = " / ".join(str(n) for n in result.per_target.values())
        print(f"       requests per process: {split}")


def print_verdict(bare: Result, tower: Result) -> None:
    if not (bare.latencies and tower.latencies):
        print("no successful requests on one side: no ratio")
        return
    tower_p99, bare_p99 = pct(tower.latencies, 0.99), pct(bare.latencies, 0.99)
    errors = sum(tower.errors.values())
    ratio = tower_p99 / bare_p99
    met = ratio <= TARGET_RATIO and errors == 0
    print(f"p99 ratio tower/bare: {ratio:.2f}x")
    print(
        f"target: tower p99 within {TARGET_RATIO:g}x of the bare apps' with zero errors: {'met' if met else 'MISSED'} "
        f"(p99 {tower_p99:.1f} ms, {errors} errors)"
    )


def exceptions_in(lines: list[str]) -> Counter:
    """The exception each traceback in a log ends with, counted."""
    found: Counter = Counter()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback"):
            in_traceback = True
        elif in_traceback and line and not line[0].isspace():
            found[line[:200]] += 1
            in_traceback = False
    return found


def outcomes(replica: ReplicaProcess) -> Counter:
    """Commands this replica ran, by outcome (ok, refused, unavailable, error), from its /metrics."""
    found: Counter = Counter()
    for line in replica.get("/metrics")[1].splitlines():
        if line.startswith("tower_commands_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            found[outcome] += int(float(line.rsplit(" ", 1)[1]))
    return found


def print_replica_notes(replicas: list[ReplicaProcess]) -> None:
    """What each replica says about itself: its commands' outcomes and time from arrival to reply, and its log."""
    for replica in replicas:
        count = replica.metric("tower_command_seconds_count") or 0
        total = replica.metric("tower_command_seconds_sum") or 0
        lines = replica.errors().splitlines()
        problems = [line for line in lines if " WARNING " in line or " ERROR " in line]
        role = (replica.health() or {}).get("scheduler", "?")
        mean = f"{total / count * 1000:.0f} ms" if count else "n/a"
        print(
            f"{replica.name} ({role}): commands by outcome {dict(outcomes(replica))}; mean arrival-to-reply {mean}; "
            f"log: {sum('Traceback' in line for line in lines)} tracebacks, {len(problems)} warning/error lines"
        )
        for line in dict.fromkeys(line.split(" ", 2)[-1] for line in problems[:MAX_LOG_LINES_SHOWN]):
            print(f"    {line[:200]}")
        for line, times in exceptions_in(lines).most_common(MAX_LOG_LINES_SHOWN):
            print(f"    {times} x {line}")


@dataclass
class Replies:
    """Tower's side of the bargain: every acknowledged command owes a reply to its response_url."""

    owed: int = 0
    posted: int = 0
    late_s: list[float] = field(default_factory=list)  # per round: last reply after the load stopped
    busy_s: float = 0.0  # Tower's load time plus the time it took to clear its backlog

    async def settle(self, fake: FakeSlackClient, newly_acked: int, load_s: float) -> None:
        self.owed += newly_acked
        self.posted, waited = await wait_for_replies(fake, self.owed)
        self.late_s.append(waited)
        self.busy_s += load_s + waited


async def measure(
    args: argparse.Namespace, fake: FakeSlackClient, bare_urls: list[str], tower_urls: list[str]
) -> tuple[dict[str, Result], Replies]:
    replies = Replies()
    await warm_up(bare_urls, fake, only_release=True)
    await replies.settle(fake, await warm_up(tower_urls, fake, only_release=False), 0)
    replies.late_s.clear()
    replies.busy_s, warm = 0.0, replies.posted
    results = {"bare": Result("bare"), "tower": Result("tower")}
    for _ in range(args.rounds):
        await run_load(
            results["bare"],
            bare_urls,
            fake,
            clients=args.clients,
            seconds=args.seconds,
            write_share=args.write_share,
            only_release=True,
        )
        before = results["tower"].owing
        await run_load(
            results["tower"],
            tower_urls,
            fake,
            clients=args.clients,
            seconds=args.seconds,
            write_share=args.write_share,
            only_release=False,
            wait_reply=args.pace == "reply",
        )
        await replies.settle(fake, results["tower"].owing - before, args.seconds)
    replies.posted -= warm
    replies.owed -= warm
    return results, replies


def print_replies(replies: Replies) -> None:
    late = " / ".join(f"{s:.1f}" for s in replies.late_s)
    print(
        f"replies Tower posted to response_url: {replies.posted} of {replies.owed} acknowledged commands; "
        f"the last reply of each round came {late} s after its load stopped"
    )
    print(
        f"commands Tower completed (reply posted) per second, load and backlog together: "
        f"{replies.posted / replies.busy_s:.1f}"
    )


async def benchmark(args: argparse.Namespace, db_env: dict[str, str], workdir: Path) -> None:
    fake = await FakeSlackClient.start(TOKEN)
    env = tower_env(
        workdir / "data",
        {**db_env, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url},
    )
    replicas: list[ReplicaProcess] = []
    bare_argvs, bare_urls = bare_apps(args.replicas, fake.api_url)
    try:
        async with processes.started(*bare_argvs):
            replicas = await asyncio.to_thread(start_replicas, args.replicas, workdir, env)
            for url in bare_urls:
                await wait_http(url)
            results, replies = await measure(args, fake, bare_urls, [f"{r.url}/slack/events" for r in replicas])
            print(
                f"{args.replicas} replicas on PostgreSQL, {args.clients} clients, "
                f"{args.rounds} x {args.seconds:g} s per app, "
                f"Tower's clients paced by {args.pace}; the bare apps' by ack (they never reply)"
            )
            print_results(results)
            print_verdict(results["bare"], results["tower"])
            print_replies(replies)
            print_replica_notes(replicas)
    finally:
        # Stopped off the loop and together: waiting for one would keep the others' shutdown waiting.
        await asyncio.gather(*(asyncio.to_thread(replica.stop) for replica in replicas))
        await fake.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per round and app")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--write-share", type=float, default=0.1, help="share of requests that write; 0: reads only")
    parser.add_argument(
        "--pace",
        choices=["reply", "ack"],
        default="reply",
        help="Tower's clients send again when answered (reply, like people) or when acked (ack: "
        "an open flood that outruns any app that acks first and works after)",
    )
    args = parser.parse_args()
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        os.environ.pop(name, None)
    url = os.environ.get(URL_ENV) or DEFAULT_DATABASE_URL
    with tempfile.TemporaryDirectory(prefix="tower-bench-") as workdir:
        async with fresh_schema(url) as db_env:
            await benchmark(args, db_env, Path(workdir))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
