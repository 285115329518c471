"""`tower` itself, run as a user would: no subcommand, --version, a closed pipe, -v, variables
that are wrong, the Slack manifest and check-config."""

import json
import subprocess

import pytest

from tests.git_repos import build_repository
from tests.shell_process import run_tower, tower_command, tower_env
from tests.test_config import MINIMAL


def toml(repository) -> str:
    return MINIMAL.replace('"/srv/web"', f'"{repository}"')


@pytest.fixture
def env(tmp_path):
    return tower_env(tmp_path / "data", {"TOWER_AS": "alice"})


def test_bare_tower_opens_the_shell(tmp_path, env):
    result = run_tower([], tmp_path, env, stdin="/whoami\n")
    assert result.returncode == 0, result.stderr
    assert "You are Alice." in result.stdout and result.stderr == ""


def test_version_is_an_option_and_a_subcommand(tmp_path, env):
    option, command = run_tower(["--version"], tmp_path, env), run_tower(["version"], tmp_path, env)
    assert option.returncode == 0 and command.returncode == 0
    assert option.stdout == command.stdout and option.stdout.startswith("tower ")


@pytest.mark.parametrize("args", [["slack-manifest", "--socket-mode"], ["shell", "-c", "/help"]])
def test_a_reader_that_goes_away_ends_tower_quietly(tmp_path, env, args):
    """`tower … | head`: head exits after its lines; here the reader is gone before Tower writes."""
    proc = subprocess.Popen(
        [*tower_command(), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # as a shell reports a program the pipe ended
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_verbose_shows_towers_lines_and_only_very_verbose_every_librarys(tmp_path, env):
    verbose = run_tower(["-v", "shell", "-c", "/whoami"], tmp_path, env)
    assert verbose.returncode == 0 and "tower.commands: command=/whoami" in verbose.stderr
    assert "aiosqlite" not in verbose.stderr
    very = run_tower(["-vv", "shell", "-c", "/whoami"], tmp_path, env)
    assert very.returncode == 0 and "DEBUG aiosqlite" in very.stderr


def test_a_bad_variable_is_reported_as_the_variable_not_as_the_file(tmp_path, env):
    repo = tmp_path / "web.git"
    build_repository(repo, [{"message": "start", "files": {"README": "hi"}}])
    (tmp_path / "tower.toml").write_text(toml(repo))
    result = run_tower(["check-config"], tmp_path, {**env, "TOWER_HTTP_PORT": "abc"})
    assert result.returncode == 2 and result.stdout == ""
    assert "environment: TOWER_HTTP_PORT: Input should be a valid integer" in result.stderr
    assert "(got 'abc')" in result.stderr and "tower.toml" not in result.stderr


def test_the_slack_manifest_needs_a_public_https_url_unless_for_socket_mode(tmp_path, env):
    missing = run_tower(["slack-manifest"], tmp_path, env)
    assert missing.returncode == 2 and missing.stdout == ""
    assert "Slack needs Tower's public URL: pass --url" in missing.stderr
    plain = run_tower(["slack-manifest", "--url", "http://tower.example.org"], tmp_path, env)
    assert plain.returncode == 2 and plain.stdout == ""
    assert "Slack calls only https:// URLs; --url is http://tower.example.org" in plain.stderr
    given = run_tower(["slack-manifest", "--url", "https://tower.example.org/"], tmp_path, env)
    assert given.returncode == 0, given.stderr
    (first, *_) = json.loads(given.stdout)["features"]["slash_commands"]
    assert first["url"] == "https://tower.example.org/slack/events"
    socket = run_tower(["slack-manifest", "--socket-mode"], tmp_path, env)
    assert socket.returncode == 0 and json.loads(socket.stdout)["settings"]["socket_mode_enabled"]


def test_check_config_refuses_a_local_repository_tower_could_not_release_from(tmp_path, env):
    def check(repository) -> subprocess.CompletedProcess:
        (tmp_path / "tower.toml").write_text(toml(repository))
        return run_tower(["check-config"], tmp_path, env)

    gone = check(tmp_path / "nowhere")
    assert gone.returncode == 2 and gone.stdout == ""
    assert f"tower.toml: projects.web.repository: {tmp_path / 'nowhere'} does not exist" in gone.stderr
    (tmp_path / "plain").mkdir()
    assert f"{tmp_path / 'plain'} is not a git repository" in check(tmp_path / "plain").stderr
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "empty.git")], check=True)
    assert "has no branch 'main' (main_branch)" in check(tmp_path / "empty.git").stderr
    build_repository(tmp_path / "web.git", [{"message": "start", "files": {"README": "hi"}}])
    fine = check(tmp_path / "web.git")
    assert fine.returncode == 0 and "OK — 1 project, 1 person" in fine.stdout, fine.stderr
