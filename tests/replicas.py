"""Several `tower run` processes on one database, as production runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.shell_process import tower_command
from tests.test_run import free_port


class ReplicaProcess:
    def __init__(self, name: str, cwd: Path, env: dict[str, str], config: Path | None = None):
        self.name, self.port = name, free_port()
        args = [*tower_command(), *(["--config", str(config)] if config else []), "run"]
        self.log = cwd / f"{name}.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            args,
            cwd=cwd,
            env={**env, "TOWER_HTTP_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            text=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, timeout: float = 5) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def health(self) -> dict | None:
        try:
            return json.loads(self.get("/healthz")[1])
        except (OSError, ValueError):
            return None

    def wait_up(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.errors()}")
            body = self.health()
            if body is not None:
                return body
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not come up: {self.errors()}")

    def metric(self, name: str) -> float | None:
        for line in self.get("/metrics")[1].splitlines():
            if line.startswith((name + " ", name + "{")):
                return float(line.rsplit(" ", 1)[1])
        return None

    def kill(self) -> None:
        """kill -9: no shutdown, no goodbye to the database."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode

    def errors(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text()


def leader_of(replicas: list[ReplicaProcess]) -> list[ReplicaProcess]:
    return [r for r in replicas if r.proc.poll() is None and (r.health() or {}).get("scheduler") == "running"]


def wait_for_one_leader(replicas: list[ReplicaProcess], timeout: float = 30) -> tuple[ReplicaProcess, float]:
    """The single leader among the live replicas, and how long it took to appear."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        leaders = leader_of(replicas)
        if len(leaders) == 1:
            return leaders[0], time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"no single leader within {timeout}s: {[r.health() for r in replicas]}")
