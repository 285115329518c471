"""/announce from several shells at once, on one database: one announcement, the others told it was
the same request twice."""

import subprocess

from tests.git_repos import build_repository
from tests.release_repos import released_then
from tests.shell_process import run_tower, tower_command, tower_env

CONFIG = """
[team]
release_managers = ["alice"]
[people.alice]
[people.bob]
[projects.demo]
repository = "{repo}"
release_branch = "release"
blackout_weekdays = []
channels = {{ team = ["console:team"], announce = ["console:announce"] }}
"""

SHIP = """\
/release new demo
/release name demo --yes
/scope freeze demo
/rc cut demo
/release ship demo
"""


def test_four_shells_announcing_at_once_post_once(tmp_path, db_target):
    build_repository(tmp_path / "repo.git", released_then())
    (tmp_path / "tower.toml").write_text(CONFIG.format(repo=tmp_path / "repo.git"))
    env = tower_env(tmp_path / "data", db_target.env())
    shipped = run_tower(["shell", "--as", "alice"], tmp_path, env, stdin=SHIP, timeout=120)
    assert shipped.returncode == 0 and "Shipped demo 1.3.0." in shipped.stdout, shipped.stderr
    command = [*tower_command(), "shell", "--as", "alice", "-c", "/announce demo --to console:blog"]
    shells = [
        subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(shell.communicate(timeout=120), shell.returncode) for shell in shells]
    posted = [out for (out, _err), code in results if code == 0]
    assert len(posted) == 1 and "Announcement #2 goes to 1 channel now." in posted[0], results
    refused = [err for (_out, err), code in results if code != 0]
    assert len(refused) == 3 and all("looks like the same request twice" in err for err in refused), refused
    delivered = sum(out.count("#blog | demo 1.3.0 is out.") for (out, _err), _code in results)
    assert delivered == 1  # whichever shell's courier took it, it went out once
