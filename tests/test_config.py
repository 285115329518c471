"""tower.toml: where it is found, what it may say, and errors that name the key and the reason."""

import re

import pytest

from bot import config
from bot.config import ConfigError
from commands.engine import settings as settings_models
from tests.shell_process import run_tower, tower_env

MINIMAL = """
[team]
release_managers = ["ann"]

[people.ann]
slack = "U0ANN0001"

[projects.web]
repository = "/srv/web"
"""


def load_text(tmp_path, text, env=None):
    path = tmp_path / "tower.toml"
    path.write_text(text)
    return config.load(path, env or {"TOWER_DATA_DIR": str(tmp_path / "data")})


def problems(tmp_path, text):
    with pytest.raises(ConfigError) as err:
        load_text(tmp_path, text)
    return err.value.problems


def test_a_minimal_file_loads_with_defaults(tmp_path):
    settings = load_text(tmp_path, MINIMAL)
    web = settings.projects["web"]
    assert (web.key, web.tag_scheme, web.simmer_days, web.timezone) == ("web", "rc", 7, "UTC")
    assert settings.release_managers("web") == ["ann"]
    assert settings.person_by_platform_id("slack", "U0ANN0001").handle == "ann"
    assert settings.data_dir == tmp_path / "data"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\nchanels = {}'),
            "projects.web.chanels: unknown key; did you mean 'channels'?",
        ),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\ntag_scheme = "semver"'),
            "projects.web.tag_scheme: Input should be 'rc' or 'build' (got 'semver')",
        ),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\ntimezone = "Mars/Olympus"'),
            "projects.web.timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\nsimmer_days = -1'),
            "projects.web.simmer_days: Input should be greater than or equal to 0 (got -1)",
        ),
        (('repository = "/srv/web"', ""), "projects.web.repository: required but missing"),
        (
            ('release_managers = ["ann"]', 'release_managers = ["zed"]'),
            "team.release_managers: 'zed' is not in [people]",
        ),
        (('slack = "U0ANN0001"', 'slack = "ann"'), "people.ann.slack: 'ann' is not a Slack user id"),
        (("[projects.web]", "[projects.Web]"), "projects.Web.key: String should match pattern"),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\n[projects.web.ci]\nprovider = "github"'),
            "projects.web.ci: provider 'github' needs 'repository' and 'workflow'",
        ),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\nchannels = { team = ["#general"] }'),
            "projects.web.channels.team: '#general' is not a channel",
        ),
        (
            (
                'repository = "/srv/web"',
                'repository = "/srv/web"\n[[projects.web.checklist]]\ntext = "x"\nbefore = "lunch"',
            ),
            "projects.web.checklist.0.before: Input should be 'rc', 'deploy' or 'ship'",
        ),
        (
            ('repository = "/srv/web"', 'repository = "/srv/web"\n[projects.web.paging]\nsteps = []'),
            "projects.web.paging.steps: List should have at least 1 item",
        ),
    ],
)
def test_invalid_config_names_the_key_and_the_reason(tmp_path, change, expected):
    old, new = change
    assert old in MINIMAL
    found = problems(tmp_path, MINIMAL.replace(old, new, 1))
    assert any(p.startswith(expected) for p in found), found


def test_a_platform_id_used_twice_is_refused(tmp_path):
    text = MINIMAL + '\n[people.bob]\nslack = "U0ANN0001"\n'
    assert any("people.bob.slack: U0ANN0001 is already ann's id" in p for p in problems(tmp_path, text))


def test_toml_syntax_errors_give_the_line(tmp_path):
    found = problems(tmp_path, MINIMAL + "[tower\n")
    line = MINIMAL.count("\n") + 1
    assert len(found) == 1 and "not valid TOML" in found[0] and f"line {line}" in found[0]


def test_the_starter_file_from_init_is_valid(tmp_path):
    settings = load_text(tmp_path, config.example_text())
    assert "myapp" in settings.projects and settings.team.release_managers == ["alice"]


def test_locate_prefers_the_flag_then_the_environment_then_the_working_directory(tmp_path):
    (tmp_path / "tower.toml").write_text(MINIMAL)
    other = tmp_path / "other.toml"
    other.write_text(MINIMAL)
    assert config.locate(str(other), {}, cwd=tmp_path) == other
    assert config.locate(None, {"TOWER_CONFIG": str(other)}, cwd=tmp_path) == other
    assert config.locate(None, {}, cwd=tmp_path) == tmp_path / "tower.toml"
    assert config.locate(None, {}, cwd=tmp_path / "nowhere") is None
    with pytest.raises(ConfigError, match="no such file"):
        config.locate(str(tmp_path / "missing.toml"), {})


def test_no_file_means_the_demo(tmp_path):
    settings = config.load(None, {"TOWER_DATA_DIR": str(tmp_path)})
    assert settings.source == "built-in demo" and list(settings.projects) == ["demo"]
    assert sorted(settings.people) == ["alice", "bob", "elvis", "jane", "tobby"]
    assert settings.team.release_managers == ["alice"]


def test_the_environment_overrides_the_http_port(tmp_path):
    settings = load_text(tmp_path, MINIMAL, {"TOWER_HTTP_PORT": "9123", "TOWER_DATA_DIR": str(tmp_path)})
    assert settings.tower.http_port == 9123


def test_the_backlog_limit_is_set_in_config_or_the_environment(tmp_path):
    assert load_text(tmp_path, MINIMAL, {"TOWER_DATA_DIR": str(tmp_path)}).tower.backlog_limit == 100
    settings = load_text(tmp_path, MINIMAL, {"TOWER_BACKLOG_LIMIT": "3", "TOWER_DATA_DIR": str(tmp_path)})
    assert settings.tower.backlog_limit == 3


def test_the_database_url_comes_only_from_the_environment(tmp_path):
    settings = load_text(tmp_path, MINIMAL)
    assert config.database_url(settings, {}).endswith(str(tmp_path / "data" / "tower.db"))
    assert config.database_url(settings, {"TOWER_DATABASE_URL": "postgresql://x@h/db"}) == "postgresql://x@h/db"
    assert problems(tmp_path, '[tower]\ndatabase_url = "x"\n' + MINIMAL)[0].startswith(
        "tower.database_url: unknown key"
    )


def test_invalid_config_stops_tower_at_start_with_every_problem(tmp_path):
    (tmp_path / "tower.toml").write_text(
        MINIMAL.replace('repository = "/srv/web"', 'repository = "/srv/web"\ntag_scheme = "x"\nsimmer_days = "a week"')
    )
    result = run_tower(["shell", "-c", "/help"], tmp_path, tower_env(tmp_path / "data"))
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr
    assert "projects.web.tag_scheme" in result.stderr and "projects.web.simmer_days" in result.stderr
    assert result.stdout == ""


def test_init_writes_a_starter_file_once(tmp_path):
    env = tower_env(tmp_path / "data")
    first = run_tower(["init"], tmp_path, env)
    assert first.returncode == 0 and (tmp_path / "tower.toml").is_file()
    second = run_tower(["init"], tmp_path, env)
    assert second.returncode == 2 and "exists" in second.stderr
    checked = run_tower(["check-config"], tmp_path, env)  # its repository is an example to edit
    assert checked.returncode == 2 and "projects.myapp.repository: /srv/git/myapp does not exist" in checked.stderr


def _explained_keys(text: str) -> dict[str, set[str]]:
    """Section (with `*` for a person's or project's name) -> the keys the file shows with an
    explanation: set or commented out, with a comment on the line or just above it."""
    found: dict[str, set[str]] = {}
    section, commented_before = "", False
    for raw in text.splitlines():
        line = raw.strip()
        header = re.match(r"^#?\s*\[\[?([a-z0-9_.]+)\]\]?\s*(#.*)?$", line)
        key = re.match(r"^#?\s*([a-z][a-z0-9_]*)\s*=", line)
        if header:
            parts = header.group(1).split(".")
            if parts[0] in ("people", "projects") and len(parts) > 1:
                parts[1] = "*"
            section = ".".join(parts)
            found.setdefault(section, set())
            parent, _, name = section.rpartition(".")
            if parent:
                found.setdefault(parent, set()).add(name)  # a sub-table explains its key in the parent
        elif key and (line.startswith("#") or "#" in line.split("=", 1)[1] or commented_before):
            found.setdefault(section, set()).add(key.group(1))
        commented_before = line.startswith("#") and not key
    return found


def test_tower_init_explains_every_key_the_loader_accepts():
    models = {
        "tower": settings_models.ServerSettings,
        "team": settings_models.TeamSettings,
        "people.*": settings_models.PersonSettings,
        "projects.*": settings_models.ProjectSettings,
        "projects.*.channels": settings_models.ChannelSettings,
        "projects.*.ci": settings_models.CISettings,
        "projects.*.probe": settings_models.ProbeSettings,
        "projects.*.paging": settings_models.PagingSettings,
        "projects.*.checklist": settings_models.ChecklistItemSettings,
    }
    named_by_their_table = {"handle", "key"}  # [people.alice], [projects.myapp]
    explained = _explained_keys(config.example_text())
    for section, model in models.items():
        accepted = set(model.model_fields) - named_by_their_table
        assert accepted - explained.get(section, set()) == set(), f"[{section}] leaves keys unexplained"
        assert explained.get(section, set()) - accepted == set(), f"[{section}] explains keys that do not exist"
