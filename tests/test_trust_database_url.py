"""The database password never shows: not at `tower run`'s start (plain or JSON logs), not in
`tower db current` or `tower db check`, however the URL carries it."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

from storage.database import redacted
from tests.shell_process import run_tower, tower_command, tower_env
from tests.test_run import free_port, wait_for

PASSWORD = "hunter2-secret"
FORMS = {
    "userinfo": "postgresql://postgres:{pw}@127.0.0.1:5432/test",
    "query": "postgresql://postgres@127.0.0.1:5432/test?password={pw}",
    "unencoded at": "postgresql://postgres:{pw}@x@127.0.0.1:5432/test",
    "ssl key password": "postgresql://postgres@127.0.0.1:5432/test?sslpassword={pw}&connect_timeout=10",
}


@pytest.mark.parametrize("form", FORMS)
def test_redacted_hides_the_password_in_every_form(form):
    shown = redacted(FORMS[form].format(pw=PASSWORD))
    assert PASSWORD not in shown and "x@127" not in shown
    assert shown.startswith("postgresql://postgres") and "127.0.0.1:5432/test" in shown


def _environment(tmp_path, db_target, url: str, **extra: str) -> dict[str, str]:
    """The test's own schema in the PostgreSQL under test (which trusts local connections and so
    takes any password), reached through `url`."""
    if db_target.kind != "postgresql":
        pytest.skip("the password forms are PostgreSQL URLs")
    return tower_env(tmp_path / "data", {"TOWER_DATABASE_URL": url, "TOWER_DATABASE_SCHEMA": db_target.schema, **extra})


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("command", [["db", "current"], ["db", "check"], ["shell", "-c", "/help"]])
def test_the_cli_never_prints_the_password(tmp_path, db_target, form, command):
    env = _environment(tmp_path, db_target, FORMS[form].format(pw=PASSWORD))
    result = run_tower(command, tmp_path, env)
    assert PASSWORD not in result.stdout + result.stderr
    assert "x@127" not in result.stdout + result.stderr


@pytest.mark.parametrize("log_format", ["plain", "json"])
def test_tower_run_logs_the_database_without_its_password(tmp_path, db_target, log_format):
    port = free_port()
    url = FORMS["query"].format(pw=PASSWORD)
    extra = {"TOWER_HTTP_PORT": str(port)}
    if log_format == "json":
        extra["TOWER_LOG_FORMAT"] = "json"
    proc = subprocess.Popen(
        [*tower_command(), "run"],
        cwd=tmp_path,
        env=_environment(tmp_path, db_target, url, **extra),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "database postgresql+asyncpg://postgres@127.0.0.1:5432/test" in err
    assert PASSWORD not in err
