"""The registry: one spec per command, duplicates refused at start-up, help derived from it."""

import pytest

from commands.catalog import build_registry
from commands.engine.errors import UsageError
from commands.engine.registry import DuplicateCommand, Registry
from commands.engine.spec import CommandSpec, Kind, Option


async def _noop(inv, svc):  # pragma: no cover
    raise AssertionError


def spec(group, name, *options):
    return CommandSpec(group=group, name=name, summary="s", example=f"/{name}", handler=_noop, options=options)


def test_a_duplicate_command_fails_at_start_up():
    registry = Registry()
    registry.add(spec("release", "new"))
    with pytest.raises(DuplicateCommand, match="/release new is registered twice"):
        registry.add(spec("release", "new"))


def test_a_command_and_a_group_of_the_same_name_clash():
    registry = Registry()
    registry.add(spec("page", "send"))
    with pytest.raises(DuplicateCommand):
        registry.add(spec(None, "page"))
    other = Registry()
    other.add(spec(None, "ack"))
    with pytest.raises(DuplicateCommand):
        other.add(spec("ack", "all"))


def test_an_option_declared_twice_is_refused():
    with pytest.raises(DuplicateCommand, match="declares an option twice"):
        Registry().add(spec("x", "y", Option("a", Kind.TEXT, "a"), Option("a", Kind.FLAG, "b")))


def test_the_real_catalog_builds_and_every_command_is_documented():
    registry = build_registry()
    assert {s.path for s in registry} >= {
        "help",
        "whoami",
        "release new",
        "release status",
        "release list",
        "release abort",
    }
    for s in registry:
        assert s.summary and s.example.startswith(f"/{s.path}")
        assert all(o.help for o in s.options)
        # Required positionals come before optional ones, or the grammar could not place them.
        flags = [o.required for o in s.positionals]
        assert flags == sorted(flags, reverse=True)
        greedy = [o for o in s.positionals if o.greedy]
        assert not greedy or greedy[-1] is s.positionals[-1]


def test_find_takes_group_and_subcommand_words():
    registry = build_registry()
    found, used = registry.find(["/release", "abort", "demo"])
    assert (found.path, used) == ("release abort", 2)
    found, used = registry.find(["help", "release"])
    assert (found.path, used) == ("help", 1)


def test_find_suggests_the_closest_command():
    registry = build_registry()
    with pytest.raises(UsageError, match="Did you mean `/whoami`"):
        registry.find(["/whoamii"])
    with pytest.raises(UsageError, match="Did you mean `/release status`"):
        registry.find(["/release", "statsu"])


def test_usage_is_generated_from_the_options():
    s = spec(
        "scope",
        "add",
        Option("release", Kind.RELEASE, "r", positional=True, required=True),
        Option("title", Kind.TEXT, "t", positional=True, required=True),
        Option("tests", Kind.LIST, "ids"),
        Option("yes", Kind.FLAG, "confirm"),
        Option("before", Kind.CHOICE, "step", choices=("rc", "ship")),
    )
    assert s.usage() == "/scope add RELEASE TITLE [--tests TESTS] [--yes] [--before rc|ship]"
