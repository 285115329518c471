"""The container files read as a reviewer would (no container engine is needed): the Dockerfile,
docker-compose.yml, the constraints both are built with, and the dependencies Tower declares."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.secret_files import with_secret_files

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGES = ["bot", "commands", "jobs", "storage"]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines if line and line[0] != "#"]


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for op, args in _instructions():
        if op == "FROM":
            stages.append([])
        stages[-1].append((op, args))
    return stages


def _first(stage: list[tuple[str, str]], test) -> int:
    return next(i for i, step in enumerate(stage) if test(*step))


def test_the_image_is_built_in_stages_and_runs_as_a_numeric_user_under_an_init():
    stages = _stages()
    assert len(stages) >= 2, "a build stage and a slim runtime stage"
    final = stages[-1]
    users = [args for op, args in final if op == "USER"]
    assert users and re.fullmatch(r"\d+(:\d+)?", users[-1]), f"USER must be numeric for runAsNonRoot: {users}"
    assert int(users[-1].split(":")[0]) != 0
    entrypoint = next(args for op, args in final if op == "ENTRYPOINT")
    assert "tini" in entrypoint and any(op == "RUN" and " tini" in args for op, args in final)
    assert any(op == "HEALTHCHECK" for op, _ in final)
    assert not any(op == "COPY" and "--from" not in args for op, args in final), "the runtime stage copies only builds"


def test_dependencies_are_installed_from_the_constraints_before_the_source_is_copied():
    build = _stages()[0]
    deps = _first(build, lambda op, args: op == "RUN" and "pip install" in args)
    copied = {pkg: _first(build, lambda op, args, p=pkg: op == "COPY" and args.split()[0] == p) for pkg in PACKAGES}
    assert all(deps < at for at in copied.values()), "every edit of the source would reinstall every dependency"
    assert "-c constraints.txt" in build[deps][1]
    before = " ".join(args for op, args in build[:deps] if op == "COPY")
    assert "constraints.txt" in before and "pyproject.toml" in before
    installs = [args for op, args in build if op == "RUN" and "pip install" in args]
    assert all("-c constraints.txt" in args for args in installs)
    assert set(PACKAGES) == {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}


def test_the_constraints_pin_everything_tower_and_its_tests_need():
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line}: a constraint pins one version"
            pinned[canonicalize_name(name)] = version
    needed = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    for spec in needed:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in constraints.txt"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} does not satisfy {spec}"


def test_every_package_tower_imports_is_declared():
    declared = {canonicalize_name(Requirement(s).name) for s in PYPROJECT["project"]["dependencies"]}
    owners = packages_distributions()
    missing = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in PACKAGES:
                        continue
                    dists = {canonicalize_name(d) for d in owners.get(top, [])}
                    if not dists & declared:
                        missing.add(f"{top} ({path.relative_to(ROOT)})")
    assert not missing, f"imported but not declared in pyproject.toml: {sorted(missing)}"


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_mounts_with_the_long_syntax_and_never_creates_a_missing_file():
    for name, service in _compose()["services"].items():
        for mount in service.get("volumes", []):
            assert isinstance(mount, dict), f"{name}: short mount syntax {mount!r}"
            if mount["type"] == "bind":
                assert mount["bind"]["create_host_path"] is False, f"{name}: {mount['source']} would become a directory"


def test_compose_has_no_default_password_and_hands_secrets_over_as_files(tmp_path):
    compose = _compose()
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"PASSWORD\w*:\s*\S*:-", text) and "tower:${" not in text, "no default password"
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        assert not any(k in env for k in ("POSTGRES_PASSWORD", "SLACK_BOT_TOKEN", "DISCORD_TOKEN")), name
        assert not re.search(r"://[^/@]+:[^/@]+@", str(env.get("TOWER_DATABASE_URL", ""))), (
            f"{name}: a password in the URL"
        )
        mounted = set(service.get("secrets", []))
        for key, value in env.items():
            if key.endswith("_FILE"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in mounted and secret in compose["secrets"], f"{name}: {key} names no mounted secret"
        if name.startswith("tower"):
            (tmp_path / "secret").write_text("s3cret\n")
            files = {k: str(tmp_path / "secret") for k in env if k.endswith("_FILE")}
            read = with_secret_files(files)
            assert files and all(read.get(k.removesuffix("_FILE")) == "s3cret" for k in files)  # Tower reads each
            assert service.get("init") is True or "tini" in (ROOT / "Dockerfile").read_text()
