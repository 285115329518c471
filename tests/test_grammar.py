"""The command grammar: quotes, named options, switches, positional words, and refusals."""

import pytest

from commands.engine.errors import UsageError
from commands.engine.grammar import parse, tokenize
from commands.engine.spec import CommandSpec, Kind, Option


async def _noop(inv, svc):  # pragma: no cover - never called by these tests
    raise AssertionError


SCOPE_ADD = CommandSpec(
    group="scope",
    name="add",
    summary="add a feature",
    example='/scope add demo "IP over libp2p" --tests T12,T13',
    handler=_noop,
    options=(
        Option("release", Kind.RELEASE, "the release", positional=True, required=True),
        Option("title", Kind.TEXT, "the feature", positional=True, required=True),
        Option("tests", Kind.LIST, "its acceptance tests"),
        Option("override", Kind.TEXT, "why the frozen scope changes"),
        Option("yes", Kind.FLAG, "confirm"),
    ),
)
PAGE = CommandSpec(
    group=None,
    name="page",
    summary="page the pilot",
    example="/page demo the node is down",
    handler=_noop,
    options=(
        Option("release", Kind.RELEASE, "the release", positional=True, required=True),
        Option("message", Kind.TEXT, "what is wrong", positional=True, required=True, greedy=True),
    ),
)


def words(text):
    return [t.value for t in tokenize(text)]


def test_words_split_on_whitespace_and_quotes_group_them():
    assert words('/scope add demo "IP over libp2p" --tests T12,T13') == [
        "/scope",
        "add",
        "demo",
        "IP over libp2p",
        "--tests",
        "T12,T13",
    ]


def test_single_and_curly_quotes_group_words_like_double_quotes():
    assert words("add 'two words'") == ["add", "two words"]
    assert words("add \u201ctwo words\u201d") == ["add", "two words"]
    assert words("add \u2018two words\u2019") == ["add", "two words"]


def test_apostrophes_inside_a_word_are_not_quotes():
    assert words("--reason don't ship") == ["--reason", "don't", "ship"]


def test_option_with_equals_takes_a_quoted_value():
    assert words('--reason="wrong branch" x') == ["--reason=wrong branch", "x"]


def test_unclosed_quote_is_refused_with_a_hint():
    with pytest.raises(UsageError, match="Unclosed quote"):
        tokenize('abort demo --reason "wrong branch')


def test_named_options_and_positionals_are_matched_to_the_spec():
    values = parse(SCOPE_ADD, tokenize('demo "IP over libp2p" --tests T12,T13 --yes'))
    assert values == {"release": "demo", "title": "IP over libp2p", "tests": "T12,T13", "yes": True}


def test_options_may_come_before_positionals_and_use_equals():
    values = parse(SCOPE_ADD, tokenize('--override="late fix" demo title'))
    assert values == {"override": "late fix", "release": "demo", "title": "title"}


def test_em_dash_from_autocorrect_starts_an_option():
    assert parse(SCOPE_ADD, tokenize("demo t \u2014yes")) == {"release": "demo", "title": "t", "yes": True}


def test_option_names_accept_underscores_and_capitals():
    assert parse(SCOPE_ADD, tokenize("demo t --YES"))["yes"] is True


def test_a_quoted_option_lookalike_is_a_word():
    assert parse(SCOPE_ADD, tokenize('demo "--tests"'))["title"] == "--tests"


def test_double_dash_ends_options():
    assert parse(SCOPE_ADD, tokenize("demo -- --yes"))["title"] == "--yes"


def test_greedy_last_positional_takes_the_rest():
    assert parse(PAGE, tokenize("demo the node is down"))["message"] == "the node is down"


def test_unknown_option_suggests_the_closest():
    with pytest.raises(UsageError) as err:
        parse(SCOPE_ADD, tokenize("demo t --test T1"))
    assert "--test" in err.value.message and "Did you mean `--tests`?" in str(err.value)


def test_unknown_option_lists_options_when_nothing_is_close():
    with pytest.raises(UsageError) as err:
        parse(SCOPE_ADD, tokenize("demo t --zzz 1"))
    assert "--tests" in str(err.value) and "--override" in str(err.value)


def test_missing_value_is_refused():
    with pytest.raises(UsageError, match="`--tests` needs a value"):
        parse(SCOPE_ADD, tokenize("demo t --tests"))
    with pytest.raises(UsageError, match="`--tests` needs a value"):
        parse(SCOPE_ADD, tokenize("demo t --tests --yes"))


def test_a_switch_takes_no_value():
    with pytest.raises(UsageError, match="takes no value"):
        parse(SCOPE_ADD, tokenize("demo t --yes=no"))


def test_an_option_given_twice_is_refused():
    with pytest.raises(UsageError, match="given twice"):
        parse(SCOPE_ADD, tokenize("demo t --tests a --tests b"))


def test_missing_required_positional_names_it_and_shows_usage():
    with pytest.raises(UsageError) as err:
        parse(SCOPE_ADD, tokenize("demo"))
    assert "needs TITLE" in str(err.value)
    assert "/scope add RELEASE TITLE" in str(err.value)


def test_unquoted_extra_words_are_refused_with_a_quoting_hint():
    with pytest.raises(UsageError) as err:
        parse(SCOPE_ADD, tokenize("demo IP over libp2p"))
    assert "Unexpected `over`" in str(err.value)
    assert "in quotes" in str(err.value)


@pytest.mark.parametrize(
    "values",
    [
        {"release": "demo", "title": "IP over libp2p", "tests": "T12,T13"},
        {"release": "demo", "title": "--tests", "yes": True},
        {"release": "demo", "title": 'say "hi"', "override": "don't"},
        {"release": "demo", "title": "\u201cquoted\u201d"},
    ],
)
def test_unparse_writes_what_parse_reads_back(values):
    from commands.engine.grammar import unparse

    text = unparse(SCOPE_ADD, values)
    assert text.startswith("/scope add ")
    assert parse(SCOPE_ADD, tokenize(text)[2:]) == values
