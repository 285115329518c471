"""How quickly `tower shell` is ready, and how quickly it answers a command.

Both are measured in a real terminal (a pty), the way a person meets them, next to a baseline
measured in the same run: a bare Python program that shows the same prompt and reads lines.
The ratio says what Tower adds on top of the interpreter; the absolute figures are checked
against the targets (first prompt < 1.5 s, a command well under 100 ms) and printed, never
asserted.

    python bench/shell_latency.py [--rounds 30] [--starts 5]
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROMPT = b"tower> "
BASELINE = "while (line := input('tower> ')) != 'exit':\n    print('ok ' + line)\n"
STARTUP_TARGET_S = 1.5
COMMAND_TARGET_MS = 100.0


class Terminal:
    """A program on a pty, with a way to wait for its prompt."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: str):
        self.started = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(cwd)
            os.execvpe(argv[0], argv, env)

    def wait_prompt(self, timeout: float = 30) -> float:
        """Seconds until the output ends with the prompt."""
        start = time.perf_counter()
        seen = b""
        while not seen.endswith(PROMPT):
            ready, _, _ = select.select([self.fd], [], [], timeout)
            if not ready:
                raise TimeoutError(f"no prompt; got {seen[-300:]!r}")
            seen += os.read(self.fd, 65536)
        return time.perf_counter() - start

    def send(self, line: str) -> float:
        os.write(self.fd, line.encode() + b"\r")
        return self.wait_prompt()

    def close(self) -> None:
        try:
            os.write(self.fd, b"exit\r")
            os.waitpid(self.pid, 0)
        finally:
            os.close(self.fd)


def tower_argv() -> list[str]:
    script = Path(sys.executable).parent / "tower"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def startup(argv: list[str], env: dict[str, str], cwd: str) -> float:
    term = Terminal(argv, env, cwd)
    term.wait_prompt()
    elapsed = time.perf_counter() - term.started  # from fork to the prompt on screen
    term.close()
    return elapsed


def command_latencies(argv: list[str], env: dict[str, str], cwd: str, line: str, rounds: int) -> list[float]:
    term = Terminal(argv, env, cwd)
    term.wait_prompt()
    term.send(line)  # warm-up: first use of each code path
    samples = [term.send(line) for _ in range(rounds)]
    term.close()
    return samples


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="tower-bench-")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOWER_")},
        "TOWER_DATA_DIR": data,
        "TERM": "dumb",
    }
    tower = [*tower_argv(), "shell", "--as", "alice"]
    baseline = [sys.executable, "-c", BASELINE]
    try:
        first = startup(tower, env, data)  # creates the database and the demo repository
        tower_starts = [startup(tower, env, data) for _ in range(args.starts)]
        base_starts = [startup(baseline, env, data) for _ in range(args.starts)]
        seed = Terminal(tower, env, data)
        seed.wait_prompt()
        seed.send("/release new demo")
        seed.close()
        status = command_latencies(tower, env, data, "/release status demo", args.rounds)
        listing = command_latencies(tower, env, data, "/release list --all", args.rounds)
        echo = command_latencies(baseline, env, data, "/release status demo", args.rounds)
    finally:
        shutil.rmtree(data, ignore_errors=True)

    ts, bs = statistics.median(tower_starts), statistics.median(base_starts)
    print(f"start-up to first prompt   first run {first:.3f} s (creates database and demo repo)")
    print(
        f"                           median {ts:.3f} s   baseline {bs:.3f} s   ratio {ts / bs:.1f}x   "
        f"target < {STARTUP_TARGET_S} s: {'met' if ts < STARTUP_TARGET_S else 'MISSED'}"
    )
    for name, samples in (("/release status demo", status), ("/release list --all", listing)):
        p50, p99 = pct(samples, 0.5) * 1000, pct(samples, 0.99) * 1000
        b50, b99 = pct(echo, 0.5) * 1000, pct(echo, 0.99) * 1000
        print(
            f"{name:<26} p50 {p50:.1f} ms  p99 {p99:.1f} ms   baseline p50 {b50:.2f} ms  p99 {b99:.2f} ms   "
            f"added p50 {p50 - b50:.1f} ms   target < {COMMAND_TARGET_MS:.0f} ms: "
            f"{'met' if p99 < COMMAND_TARGET_MS else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
