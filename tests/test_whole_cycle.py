"""The whole cycle end to end through the shell: open, crew, name, freeze, cut, deploy, simmer,
ship, announce — then the next release ships and the old deployment is retired."""

from tests.git_repos import build_repository, git
from tests.release_repos import released_then
from tests.shell_process import run_tower, tower_env

CONFIG = """
[team]
release_managers = ["alice"]
[people.alice]
[people.bob]
[people.jane]
[projects.demo]
repository = "{repo}"
release_branch = "main"
roster = ["bob", "jane"]
simmer_days = 0
retire_after_days = 0
blackout_weekdays = []
channels = {{ team = ["console:team"], announce = ["console:announce"] }}
[projects.demo.ci]
provider = "local"
command = "echo deployed $TOWER_TAG >> deploys.log"
retire_command = "echo retired $TOWER_TAG >> deploys.log"
"""

CYCLE = """\
/release new demo
/rotation assign demo
/release name demo --yes
/scope freeze demo
/rc cut demo
/deploy start demo
/release ship demo
/release new demo
/rotation assign demo
/release name demo --version 1.3.1 --yes --no-notes
/scope freeze demo
/rc cut demo
/deploy start demo
/release ship demo
/release list demo --all
/deploy status demo@1.3.0
"""


def test_two_releases_through_the_shell(tmp_path):
    repo = tmp_path / "repo.git"
    build_repository(repo, released_then())
    (tmp_path / "tower.toml").write_text(CONFIG.format(repo=repo))
    result = run_tower(["shell", "--as", "alice"], tmp_path, tower_env(tmp_path / "data"), stdin=CYCLE, timeout=120)
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "Traceback" not in result.stderr, result.stderr
    for line in (
        "Named demo 1.3.0",
        "Cut v1.3.0-rc1",
        "Deploying v1.3.0-rc1 to production.",
        "#team | v1.3.0-rc1 is live on production; demo 1.3.0 simmers for 0 days.",
        "#team | The simmer of demo 1.3.0 passed",
        "Shipped demo 1.3.0.",
        "#announce | demo 1.3.0 is out. Pausing block production.",
        "Shipped demo 1.3.1.",
        "#team | Retired the demo 1.3.0 deployment on production.",
    ):
        assert line in out, line
    listing = out.split("Releases of demo:")[1]
    assert "1.3.1  released" in listing and "1.3.0  retired" in listing
    assert git(repo, "tag", "--list", "v1.3*").split() == ["v1.3.0", "v1.3.0-rc1", "v1.3.1", "v1.3.1-rc1"]
    log = (tmp_path / "data" / "ci" / "demo" / "deploys.log").read_text().splitlines()
    assert log == ["deployed v1.3.0-rc1", "deployed v1.3.1-rc1", "retired v1.3.0-rc1"]
