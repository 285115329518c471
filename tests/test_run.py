"""`tower run`: the HTTP server answers /healthz, and SIGTERM shuts it down cleanly."""

import json
import signal
import socket
import subprocess
import time
import urllib.request

from tests.shell_process import tower_command, tower_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 30) -> tuple[int, dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_run_serves_healthz_and_stops_on_sigterm(tmp_path, db_target):
    port = free_port()
    env = tower_env(tmp_path / "data", {"TOWER_HTTP_PORT": str(port), **db_target.env()})
    proc = subprocess.Popen(
        [*tower_command(), "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        status, body = wait_for(f"http://127.0.0.1:{port}/healthz")
        assert status == 200
        assert body == {"status": "ok", "database": "ok", "scheduler": "running"}
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "HTTP on http://127.0.0.1:" in err and "shutting down" in err and "stopped" in err
    assert "Slack: off (SLACK_BOT_TOKEN is not set)" in err and "Discord: off (DISCORD_TOKEN is not set)" in err
    assert "Traceback" not in err


def test_run_refuses_a_busy_port_with_advice(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = tower_env(tmp_path / "data", {"TOWER_HTTP_PORT": str(port)})
        result = subprocess.run(
            [*tower_command(), "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert f"Can't listen on 127.0.0.1:{port}" in result.stderr and "TOWER_HTTP_PORT" in result.stderr


def test_an_unreachable_database_is_reported_without_its_password(tmp_path):
    port = free_port()  # nothing listens there
    env = tower_env(tmp_path / "data", {"TOWER_DATABASE_URL": f"postgresql://tower:hunter2@127.0.0.1:{port}/tower"})
    result = subprocess.run(
        [*tower_command(), "shell", "-c", "/help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "Can't use the database at postgresql://tower:***@127.0.0.1" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
