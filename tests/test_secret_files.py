"""Secrets handed over as files (`NAME_FILE`), as Docker and Kubernetes secrets are mounted."""

from __future__ import annotations

import pytest

from bot.config import database_url
from bot.secret_files import SecretFileError, with_secret_files
from storage.database import sqlite_url
from tests.shell_process import run_tower, tower_env
from tests.support import make_settings


def test_a_secret_file_sets_its_variable(tmp_path):
    (tmp_path / "token").write_text("xoxb-from-a-file\n")
    (tmp_path / "url").write_text("postgresql://tower:s3cret@db/tower")
    env = with_secret_files(
        {"SLACK_BOT_TOKEN_FILE": str(tmp_path / "token"), "TOWER_DATABASE_URL_FILE": str(tmp_path / "url")}
    )
    assert env["SLACK_BOT_TOKEN"] == "xoxb-from-a-file"  # the final newline of `echo … > file` dropped
    assert env["TOWER_DATABASE_URL"] == "postgresql://tower:s3cret@db/tower"


def test_an_empty_secret_file_leaves_its_variable_unset(tmp_path):
    """Compose mounts every secret it lists: a platform not used keeps an empty file."""
    (tmp_path / "discord").write_text("\n")
    assert "DISCORD_TOKEN" not in with_secret_files({"DISCORD_TOKEN_FILE": str(tmp_path / "discord")})


def test_only_secrets_are_read_from_files(tmp_path):
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----")
    env = with_secret_files({"SSL_CERT_FILE": str(tmp_path / "ca.pem"), "TOWER_CONFIG_FILE": "x"})
    assert env == {"SSL_CERT_FILE": str(tmp_path / "ca.pem"), "TOWER_CONFIG_FILE": "x"}


@pytest.mark.parametrize(
    ("files", "env", "message"),
    [
        ({}, {"DISCORD_TOKEN_FILE": "{tmp}/missing"}, "DISCORD_TOKEN_FILE: cannot read {tmp}/missing: No such file"),
        ({"t": b"\xff"}, {"DISCORD_TOKEN_FILE": "{tmp}/t"}, "DISCORD_TOKEN_FILE: {tmp}/t is not UTF-8 text"),
        ({"t": b"x"}, {"DISCORD_TOKEN_FILE": "{tmp}/t", "DISCORD_TOKEN": "y"}, "DISCORD_TOKEN and DISCORD_TOKEN_FILE"),
    ],
)
def test_a_secret_file_that_cannot_be_used_is_named(tmp_path, files, env, message):
    for name, text in files.items():
        (tmp_path / name).write_bytes(text)
    env = {k: v.replace("{tmp}", str(tmp_path)) for k, v in env.items()}
    with pytest.raises(SecretFileError, match=message.replace("{tmp}", str(tmp_path))):
        with_secret_files(env)


def test_the_database_password_may_be_kept_apart_from_the_url(tmp_path):
    settings = make_settings(tmp_path / "data")
    env = {"TOWER_DATABASE_URL": "postgresql://tower@db:5432/tower", "TOWER_DATABASE_PASSWORD": "p@ss/word"}
    assert database_url(settings, env) == "postgresql://tower:p%40ss%2Fword@db:5432/tower"
    assert database_url(settings, {"TOWER_DATABASE_URL": "postgresql://u:x@db/t"}) == "postgresql://u:x@db/t"
    assert database_url(settings, {}) == sqlite_url(settings.data_dir / "tower.db")


def test_tower_reads_its_database_url_from_a_file(tmp_path):
    elsewhere = tmp_path / "elsewhere.db"
    (tmp_path / "url").write_text(sqlite_url(elsewhere) + "\n")
    env = tower_env(tmp_path / "data", {"TOWER_DATABASE_URL_FILE": str(tmp_path / "url")})
    result = run_tower(["shell", "--as", "alice", "-c", "/release new demo"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert elsewhere.is_file() and not (tmp_path / "data" / "tower.db").exists()


def test_an_unreadable_secret_file_stops_tower_with_one_line(tmp_path):
    env = tower_env(tmp_path / "data", {"SLACK_SIGNING_SECRET_FILE": str(tmp_path / "nope")})
    result = run_tower(["shell", "--as", "alice", "-c", "/release list"], tmp_path, env)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert (
        result.stderr.strip()
        == f"tower: SLACK_SIGNING_SECRET_FILE: cannot read {tmp_path}/nope: No such file or directory"
    )
    assert not (tmp_path / "data" / "tower.db").exists()  # nothing was started
