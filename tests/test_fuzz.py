"""Property-based fuzzing of bad input: whatever is typed as a command and whatever reaches the CI
callback, Tower does not crash, answers with one clear refusal, and a refusal changes nothing.

All examples of a test share one Tower (a named release whose candidate is being deployed), so
anything a refusal left behind shows in the next comparison of every stored row. The `@example`s
are inputs fuzzing found that broke Tower; they run first, every time."""

import json
import re
import time
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import open_tower
from bot.web import build_web_app
from commands.catalog import build_registry
from commands.engine import grammar
from commands.engine.spec import Kind
from jobs.scheduler import Wakeups
from storage.queries import deploys
from storage.tables import metadata
from tests.ci_callbacks import signature as callback_signature
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.release_repos import repo_settings
from tests.support import run

SECRET = "fuzz-secret"
SETUP = (
    "/release new demo",
    "/rotation assign demo",
    "/release name demo --yes",
    "/scope freeze demo",
    '/scope add demo "Pausing" --tests T1 --override "late"',
    "/rc cut demo",
    "/deploy start demo",
)
OP = "OPERATION-OF-THE-DEPLOYMENT"  # stands for the operation id of the deployment SETUP starts (random)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Live:
    """The Tower under fuzz, with a short repr so that failure reports stay readable."""

    def __init__(self, tower, op: str):
        self.tower, self.client, self.op = tower, None, op

    def body(self, event) -> bytes:
        """The event as JSON, with the deployment's real operation id in place of OP."""
        return json.dumps(event).replace(OP, self.op).encode()

    def __repr__(self) -> str:
        return "live"


@pytest.fixture
async def live(tmp_path, db_target, clock):
    async with FakeCIWebhook(secret=SECRET) as receiver:
        config, _ = repo_settings(
            tmp_path, checklist=[], ci={"provider": "webhook", "url": receiver.url, "secret_env": "TOWER_CI_SECRET"}
        )
        tower = await open_tower(config, {**db_target.env(), "TOWER_CI_SECRET": SECRET}, clock=clock)
        try:
            for text in SETUP:
                assert (await run(tower, text)).ok, text
            async with tower.services.db.read() as session:
                (deployment,) = await deploys.of_release(session, 1)
            yield Live(tower, deployment.operation_id)
        finally:
            await tower.close()


async def everything(live: Live) -> dict[str, list[str]]:
    """Every row of every table: equal results mean nothing was stored, changed or deleted."""
    async with live.tower.services.db.read() as session:
        return {
            table.name: sorted(map(repr, (await session.exec(select(table))).all())) for table in metadata.sorted_tables
        }


# --- Commands -------------------------------------------------------------------------------------

REGISTRY = list(build_registry())
PREFIXES = sorted(
    {f"/{spec.path}" for spec in REGISTRY} | {f"/{spec.group}" for spec in REGISTRY if spec.group} | {"/", ""}
)
OPTIONS = sorted({opt.name for spec in REGISTRY for opt in spec.options if not opt.positional} | {"help"})
NASTY = st.sampled_from(
    [
        "\x00",
        "\x07",
        "\x1b",
        "\x7f",
        "\n",
        "\r",
        "\t",
        "\u2028",
        "\u202e",
        "\ufeff",
        "\u200b",
        '"',
        "'",
        "`",
        "\\",
        "%",
        "=",
        ",",
        "@",
        "#",
        "\u201c",
        "\u201d",
        "\u2014",
        "\U0001d11e",
        "\U0010ffff",
    ]
)
TEXT = st.text(NASTY | st.characters(), min_size=1, max_size=20)
EDGES = [
    "0",
    "-1",
    "2147483648",
    "-2147483649",
    "9223372036854775808",
    "-9223372036854775809",
    "9" * 5000,
    "\uff11\uff12",
    "demo#0",
    "demo#-1",
    "demo#99999999999999999999",
    "demo@",
    "demo@1.3",
    "@",
    "<@>",
    "<@U0NOBODY>",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    '"',
    "\u201c",
    "\u201eunclosed",
    "it's",
    "--",
    "-",
    "\u2014",
    "\u2013\u2013x",
    "=",
    "--=",
    ",,",
    "T1,,T2",
]
WORDS = st.one_of(
    TEXT,
    st.sampled_from(EDGES),
    st.integers().map(str),
    st.tuples(
        st.sampled_from(["--", "\u2014", "\u2013"]),
        st.sampled_from(OPTIONS),
        st.sampled_from(["", "=", "=x", '="a b"']),
    ).map("".join),
    st.tuples(st.sampled_from(['"', "'", "\u201c", "\u201e"]), TEXT, st.sampled_from(['"', "'", "\u201d", ""])).map(
        "".join
    ),
    st.text(min_size=1, max_size=3).map(lambda s: s * 1500),  # very long
)
PLAUSIBLE = {
    Kind.TEXT: TEXT,
    Kind.INT: st.integers().map(str),
    Kind.DATE: st.dates().map(str),
    Kind.RELEASE: st.sampled_from(["demo", "DEMO", "demo@1.3.0", "demo@v1.3.0", "demo@1.2.0", "demo#1", "demo#2"]),
    Kind.PROJECT: st.sampled_from(["demo", "Demo"]),
    Kind.VERSION: st.sampled_from(["1.3.0", "v1.3.0-rc1", "2.0.0"]),
    Kind.PERSON: st.sampled_from(["bob", "@jane", "ALICE", "<@U0DEMOBOB>", "<@100000000000000003>"]),
    Kind.LIST: st.lists(TEXT, min_size=1, max_size=3).map(",".join),
}


def typed(spec) -> st.SearchStrategy[str]:
    """The command with its required options and some others, each sensible or junk, as typed."""

    def value(opt):
        if opt.kind is Kind.FLAG:
            return st.booleans()
        return (st.sampled_from(opt.choices) if opt.choices else PLAUSIBLE[opt.kind]) | WORDS

    values = st.fixed_dictionaries(
        {o.name: value(o) for o in spec.options if o.required},
        optional={o.name: value(o) for o in spec.options if not o.required},
    )
    return values.map(lambda v: grammar.unparse(spec, v))


TYPED = st.one_of(*map(typed, REGISTRY))
SPACES = st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000"])
COMMANDS = st.one_of(
    TYPED,
    st.tuples(TYPED, st.lists(WORDS, min_size=1, max_size=3)).map(lambda t: " ".join([t[0], *t[1]])),
    st.tuples(st.sampled_from(PREFIXES), SPACES, st.lists(WORDS, max_size=6)).map(
        lambda t: t[0] + t[1] + t[1].join(t[2])
    ),
    st.text(),
)
CRASH_SIGNS = re.compile(r"Traceback|incident|went wrong inside|\b[A-Z]\w*(Error|Exception)\b")


@FUZZ
@example(text="/ack 9223372036854775808")  # numbers beyond the database's integers
@example(text="/release status demo#9223372036854775808")
@example(text="/page demo a\x00b")  # a NUL character, which PostgreSQL does not store
@example(text="/page demo " + "x" * 2001)  # longer than its column (PostgreSQL enforces lengths)
@given(text=COMMANDS)
async def test_any_text_gets_one_clear_reply_and_a_refusal_changes_nothing(live, text):
    before = await everything(live)
    records: list = []
    live.tower.dispatcher.observers.append(records.append)
    try:
        reply = await run(live.tower, text)  # alice, a release manager: no permission refusal hides a bug
    finally:
        live.tower.dispatcher.observers.remove(records.append)
    assert not {"error", "unavailable"} & {r.outcome for r in records}, reply.text  # a crash, caught
    assert reply.text.strip()
    sign = CRASH_SIGNS.search(reply.text)
    assert sign is None or sign.group() in text, reply.text
    if not reply.ok:
        assert await everything(live) == before, reply.text


# --- CI callbacks ---------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TEXT, kids, max_size=3),
    max_leaves=8,
)
KINDS = [
    "deploy.running",
    "deploy.succeeded",
    "deploy.failed",
    "smoke.passed",
    "smoke.failed",
    "acceptance",
    "step",
    "retire.succeeded",
    "retire.failed",
    "integrate.succeeded",
    "integrate.failed",
]
RESULT = st.fixed_dictionaries(
    {}, optional={"test": st.just("T1") | JSON, "outcome": st.sampled_from(["pass", "fail"]) | JSON, "url": JSON}
)
EVENTS = st.tuples(
    st.dictionaries(TEXT, JSON, max_size=2),
    st.fixed_dictionaries(
        {
            "project": st.just("demo") | JSON,
            "operation_id": st.sampled_from([OP, OP, f"{OP}-retire"]) | JSON,
            "event": st.sampled_from(KINDS) | JSON,
        },
        optional={
            "results": st.lists(RESULT | JSON, max_size=3) | JSON,
            "name": st.just("Explorer updated") | JSON,
            **dict.fromkeys(["outcome", "detail", "run_url", "log_url", "archive_url"], JSON),
        },
    ),
).map(lambda parts: {**parts[0], **parts[1]})  # the fields Tower reads, and any others
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
HEADER = st.text(ASCII, max_size=40) | st.text(ASCII, min_size=1, max_size=4).map(lambda s: s * 60)  # up to 240
STAMPS = st.one_of(
    st.integers(-1000, 1000).map(lambda skew: str(int(time.time()) + skew)),
    st.integers().map(str),
    HEADER,
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12),  # digits of all scripts
    st.sampled_from(["", "-1", "1e9", " 1", "9" * 5000]),
)


def signature(stamp: str, raw: bytes, secret: str = SECRET, delivery: str = "") -> str:
    return callback_signature(secret, stamp, delivery, raw)


@pytest.fixture
async def hooks(live):
    async with TestClient(TestServer(build_web_app(live.tower, Wakeups(live.tower.services)))) as client:
        live.client = client
        yield live


async def post(live: Live, raw: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    response = await live.client.post("/hooks/ci", data=raw, headers=headers)
    text = await response.text()
    assert response.status < 500, f"{response.status}: {text}"
    answer = json.loads(text)
    assert isinstance(answer, dict) and (response.status == 200 or answer.get("error")), (response.status, answer)
    return response.status, answer


@FUZZ
@example(
    body=json.dumps({"project": "demo"}).encode(), stamp="\u00b2", signed="sha256=", delivery="d"
)  # isdigit(), not int()
@example(body=json.dumps({"project": "demo"}).encode(), stamp="9" * 5000, signed="sha256=", delivery="d")
@given(
    body=st.one_of(EVENTS.map(json.dumps), EVENTS.map(json.dumps), JSON.map(json.dumps), st.binary()),
    stamp=STAMPS | st.none(),
    signed=st.sampled_from(["wrong key", "other bytes"]) | HEADER | st.none(),
    delivery=HEADER | st.none(),
)
async def test_unsigned_forged_or_malformed_callbacks_are_refused_and_change_nothing(
    hooks, body, stamp, signed, delivery
):
    raw = body if isinstance(body, bytes) else body.replace(OP, hooks.op).encode()
    if signed in ("wrong key", "other bytes"):  # well-formed signatures, forged
        d = delivery or ""
        forged = (
            signature(stamp or "", raw, "guess", d) if signed == "wrong key" else signature(stamp or "", raw + b" ", d)
        )
        signed = forged
    headers = {
        name: value
        for name, value in [("X-Tower-Timestamp", stamp), ("X-Tower-Signature", signed), ("X-Tower-Delivery", delivery)]
        if value is not None
    }
    before = await everything(hooks)
    status, answer = await post(hooks, raw, headers)
    assert status != 200, answer
    assert await everything(hooks) == before


@FUZZ
@example(event={"project": "demo", "operation_id": OP, "event": "acceptance", "results": {"T1": "pass"}}, delivery="")
@example(
    event={"project": "demo", "operation_id": OP, "event": "acceptance", "results": [{"outcome": "pass"}]}, delivery=""
)
@example(event={"project": "demo", "operation_id": "a\x00"}, delivery="")  # PostgreSQL stores no NUL
@example(event={"project": "demo", "operation_id": OP, "event": "step"}, delivery="d" * 170)  # longer than its column
@example(event={"project": "demo", "operation_id": OP, "event": "x" * 60}, delivery="")
@given(event=EVENTS | JSON, delivery=HEADER)
async def test_signed_callbacks_with_any_content_are_applied_or_refused_cleanly(hooks, event, delivery):
    raw, stamp = hooks.body(event), str(int(time.time()))
    delivery = uuid.uuid4().hex + delivery  # never a replay, which would change nothing anyway
    headers = {
        "X-Tower-Timestamp": stamp,
        "X-Tower-Signature": signature(stamp, raw, delivery=delivery),
        "X-Tower-Delivery": delivery,
    }
    before = await everything(hooks)
    status, answer = await post(hooks, raw, headers)
    if status != 200:
        assert await everything(hooks) == before
    else:
        assert answer.get("status") == "ok", answer
