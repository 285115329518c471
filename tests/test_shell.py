"""`tower shell` end to end: the real executable, piped input and a real terminal."""

import os
import pty
import select
import subprocess
import time

from tests.shell_process import run_tower, tower_command, tower_env

NEWCOMER = """\
/help
/release new demo
/release status demo
/release list
/release abort demo --reason "wrong branch"
"""


def test_the_newcomers_session_piped(tmp_path, db_target):
    env = tower_env(tmp_path / "data", db_target.env())
    result = run_tower(["shell", "--as", "alice"], tmp_path, env, stdin=NEWCOMER)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Commands, as alice:" in out
    assert "Type /help COMMAND for details and an example, e.g. /help release new." in out  # runnable here
    assert "Opened demo#1 (planning)." in out
    assert "demo#1: planning" in out
    assert "Open releases:" in out
    assert "Aborted demo#1 (it was planning): wrong branch" in out
    assert result.stderr == ""
    # The state outlives the process.
    again = run_tower(["shell", "--as", "bob", "-c", "/release status demo#1"], tmp_path, env)
    assert again.returncode == 0 and "demo#1: aborted" in again.stdout
    assert "wrong branch" in again.stdout


def test_a_failed_command_makes_the_exit_code_non_zero_and_the_rest_still_runs(tmp_path, db_target):
    env = tower_env(tmp_path / "data", db_target.env())
    result = run_tower(["shell", "--as", "bob"], tmp_path, env, stdin="/release new demo\n/release list --all\n")
    assert result.returncode == 1
    assert "error: Only release managers (alice) may run /release new; you are bob." in result.stderr
    assert "No releases." in result.stdout


def test_comments_and_blank_lines_are_skipped(tmp_path):
    env = tower_env(tmp_path / "data")
    result = run_tower(["shell", "--as", "alice"], tmp_path, env, stdin="# a script\n\n/whoami\n")
    assert result.returncode == 0 and "You are Alice." in result.stdout


def test_unknown_person_for_as_is_refused_before_anything_runs(tmp_path):
    env = tower_env(tmp_path / "data")
    result = run_tower(["shell", "--as", "mallory"], tmp_path, env, stdin="/release new demo\n")
    assert result.returncode == 2
    assert "unknown person 'mallory'" in result.stderr and "alice" in result.stderr


def test_the_demo_repository_is_created_with_unreleased_entries(tmp_path):
    env = tower_env(tmp_path / "data")
    assert run_tower(["shell", "-c", "/help"], tmp_path, env).returncode == 0
    repo = tmp_path / "data" / "demo-repo"
    changelog = subprocess.run(["git", "show", "main:CHANGELOG.md"], cwd=repo, capture_output=True, text=True).stdout
    unreleased = changelog.split("## [Unreleased]", 1)[1].split("## [1.2.0]", 1)[0]
    assert "### Added" in unreleased and "- Release pages" in unreleased
    tags = subprocess.run(["git", "tag"], cwd=repo, capture_output=True, text=True).stdout.split()
    assert tags == ["v1.2.0"]


def test_interactive_shell_prompts_runs_and_keeps_history(tmp_path):
    env = tower_env(tmp_path / "data", {"TERM": "dumb"})
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes `tower shell` on a terminal
        os.chdir(tmp_path)
        os.execvpe(tower_command()[0], [*tower_command(), "shell", "--as", "alice"], env)
    try:
        assert "tower> " in _read_until(fd, "tower> ")
        os.write(fd, b"/release new demo\r")
        assert "Opened demo#1 (planning)." in _read_until(fd, "tower> ")
        os.write(fd, b"exit\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)
    history = (tmp_path / "data" / "shell_history").read_text()
    assert "/release new demo" in history


def _read_until(fd: int, marker: str, timeout: float = 20) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while not seen.endswith(marker):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} within {timeout}s; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            seen += os.read(fd, 4096).decode(errors="replace")
    return seen


def test_as_switches_the_person_mid_session(tmp_path):
    env = tower_env(tmp_path / "data")
    script = (
        "/release new demo\n:as bob\n/release abort demo --reason mine\n:as alice\n/release abort demo --reason ok\n"
    )
    result = run_tower(["shell", "--as", "alice"], tmp_path, env, stdin=script)
    assert "You are now bob." in result.stdout
    assert "you are bob" in result.stderr  # bob may not abort
    assert "Aborted demo#1 (it was planning): ok" in result.stdout
    assert result.returncode == 1


def test_completion_offers_commands_subcommands_options_and_projects(tmp_path):
    from bot.platforms.console import Completer
    from commands.catalog import build_registry
    from tests.support import make_settings

    completer = Completer(build_registry(), make_settings(tmp_path))
    assert completer.candidates("/rel") == ["/release"]
    assert completer.candidates("/release ") == [s.name for s in build_registry().in_group("release")]
    assert completer.candidates("/release n") == ["new", "name", "notes"]
    assert completer.candidates("/release abort de") == ["demo"]
    assert completer.candidates("/release abort demo --r") == ["--reason"]
    assert completer.candidates("/who") == ["/whoami"]
