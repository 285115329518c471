"""`tower db`: upgrade, current and check, on both databases."""

from storage.migrate import head_revision
from tests.shell_process import run_tower, tower_env


def test_upgrade_then_current_then_check(tmp_path, db_target):
    env = tower_env(tmp_path / "data", db_target.env())
    current = run_tower(["db", "current"], tmp_path, env)
    assert current.returncode == 0 and "empty (no schema yet)" in current.stdout
    check = run_tower(["db", "check"], tmp_path, env)
    assert check.returncode == 1 and "run `tower db upgrade`" in check.stdout
    upgrade = run_tower(["db", "upgrade"], tmp_path, env)
    assert upgrade.returncode == 0 and f"upgraded empty → {head_revision()}" in upgrade.stdout
    again = run_tower(["db", "upgrade"], tmp_path, env)
    assert again.returncode == 0 and f"already at {head_revision()}" in again.stdout
    check = run_tower(["db", "check"], tmp_path, env)
    assert check.returncode == 0 and "matches Tower's tables" in check.stdout, check.stdout + check.stderr


def test_check_reports_a_schema_that_drifted(tmp_path):
    import sqlite3

    env = tower_env(tmp_path / "data")
    assert run_tower(["db", "upgrade"], tmp_path, env).returncode == 0
    with sqlite3.connect(tmp_path / "data" / "tower.db") as conn:
        conn.execute("CREATE TABLE stray (id INTEGER PRIMARY KEY)")
    check = run_tower(["db", "check"], tmp_path, env)
    assert check.returncode == 1 and "stray" in check.stdout
