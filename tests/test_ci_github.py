"""GitHub Actions as Tower's CI: the CI contract, then the exact REST calls, finding a run by its
run name, auth and failures — above all a dispatch whose answer was lost — against a fake over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.integrations.ci_github import GitHubActionsCI
from commands.engine.ports import CIError, CIUnavailable, Run, RunRequest
from tests.ci_contract import *  # noqa: F403
from tests.ci_contract import CIUnderTest, request
from tests.ci_fixtures import closing, under_test
from tests.fakes.ci_github import FIRST_RUN_ID, FakeGitHubActions

REPO = "acme/demo"
WORKFLOW = "deploy.yml"
TOKEN = "ghp_s3cretActionsToken0123456789"
TOKEN_ENV = "TOWER_GH_TOKEN"


@pytest.fixture
async def actions() -> AsyncIterator[FakeGitHubActions]:
    async with FakeGitHubActions(REPO, WORKFLOW, token=TOKEN) as fake:
        yield fake


def make_ci(
    actions: FakeGitHubActions, token: str | None = TOKEN, workflow: str = WORKFLOW, timeout: float = 5.0
) -> GitHubActionsCI:
    ci = GitHubActionsCI(REPO, workflow, token, api_url=actions.base_url, token_env=TOKEN_ENV, timeout=timeout)
    ci.find_delays = (0.0, 0.05, 0.1)  # the fake lists runs at once unless told otherwise
    return ci


@pytest.fixture
async def ci(actions) -> AsyncIterator[GitHubActionsCI]:
    async with closing(make_ci(actions)) as ci:
        yield ci


@pytest.fixture
def ci_under_test(actions, ci) -> CIUnderTest:
    return under_test(ci, actions)


# -- the exact REST calls ------------------------------------------------------------------------


async def test_trigger_dispatches_the_workflow_with_tower_inputs_and_gets_the_run_back(actions, ci):
    run = await ci.trigger(request("op-7"))
    assert [(c.method, c.path, c.status) for c in actions.calls] == [
        ("POST", f"/repos/{REPO}/actions/workflows/{WORKFLOW}/dispatches", 200),  # no lookup needed
    ]
    assert actions.calls[0].json == {
        "ref": "main",
        "inputs": {
            "tag": "v1.3.0-rc1",
            "version": "1.3.0",
            "operation_id": "op-7",
            "pipeline": "deploy",
            "environment": "devnet",
            "callback_url": "http://127.0.0.1:9/hooks/ci",
        },
        "return_run_details": True,
    }
    assert run == Run(
        run_id=str(FIRST_RUN_ID), url=f"https://github.com/{REPO}/actions/runs/{FIRST_RUN_ID}", status="queued"
    )


async def test_a_workflow_without_tower_run_name_is_followed_by_the_run_id_github_returns(actions, ci):
    actions.run_name = "Deploy"  # no operation id in the title: only the returned id can find it
    run = await ci.trigger(request("op-7"))
    assert run.run_id == str(FIRST_RUN_ID) and not run.run_id.startswith("op:")
    actions.set_status(FIRST_RUN_ID, "completed", "success")
    assert (await ci.status(run.run_id)).status == "succeeded"


async def test_a_server_without_run_details_is_asked_for_the_run_by_its_run_name(actions, ci):
    actions.run_details = False  # an older GitHub Enterprise Server: 204, no run id
    run = await ci.trigger(request("op-7"))
    assert [(c.method, c.path, c.status, c.query) for c in actions.calls] == [
        ("POST", f"/repos/{REPO}/actions/workflows/{WORKFLOW}/dispatches", 204, {}),
        (
            "GET",
            f"/repos/{REPO}/actions/workflows/{WORKFLOW}/runs",
            200,
            {"event": "workflow_dispatch", "per_page": "50"},
        ),
    ]
    assert actions.runs[FIRST_RUN_ID]["display_title"] == "tower deploy op-7"
    assert run == Run(
        run_id=str(FIRST_RUN_ID), url=f"https://github.com/{REPO}/actions/runs/{FIRST_RUN_ID}", status="queued"
    )


async def test_every_request_carries_the_token_and_github_headers(actions, ci):
    await ci.trigger(request())
    await ci.status(str(FIRST_RUN_ID))
    assert len(actions.calls) == 2
    for call in actions.calls:
        assert call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert call.headers["Accept"] == "application/vnd.github+json"
        assert call.headers["X-GitHub-Api-Version"] == "2022-11-28"


async def test_missing_environment_and_callback_are_sent_as_empty_inputs(actions, ci):
    await ci.trigger(
        RunRequest(operation_id="op-bare", pipeline="integrate", project="demo", version="1.3.0", tag="v1.3.0")
    )
    inputs = actions.dispatches[0]["inputs"]
    assert inputs["environment"] == "" and inputs["callback_url"] == ""
    assert all(isinstance(v, str) for v in inputs.values())


async def test_another_ref_is_dispatched_on_that_ref(actions):
    actions.refs = ("main", "release")
    async with closing(GitHubActionsCI(REPO, WORKFLOW, TOKEN, ref="release", api_url=actions.base_url)) as ci:
        await ci.trigger(request())
    assert actions.dispatches[0]["ref"] == "release"


async def test_status_maps_github_status_and_conclusion(actions, ci):
    run_id = (await ci.trigger(request())).run_id
    for status, conclusion, expected in [
        ("queued", None, "queued"),
        ("waiting", None, "queued"),
        ("in_progress", None, "running"),
        ("completed", "success", "succeeded"),
        ("completed", "failure", "failed"),
        ("completed", "cancelled", "failed"),
        ("completed", "timed_out", "failed"),
    ]:
        actions.set_status(run_id, status, conclusion)
        assert (await ci.status(run_id)).status == expected, (status, conclusion)
    assert actions.calls[-1].path == f"/repos/{REPO}/actions/runs/{run_id}"


async def test_find_matches_the_whole_operation_id_not_a_prefix(ci):
    other = await ci.trigger(request("op-10"))
    assert await ci.find(request("op-1")) is None
    mine = await ci.trigger(request("op-1"))
    assert (await ci.find(request("op-1"))).run_id == mine.run_id != other.run_id


async def test_a_run_listed_late_gets_a_placeholder_that_status_resolves(actions, ci):
    actions.run_details = False
    actions.list_lag = len(ci.find_delays)  # listed only after trigger has stopped looking
    run = await ci.trigger(request("op-late"))
    assert run == Run(run_id="op:op-late", url=None, status="queued")
    assert actions.started == 1
    now = await ci.status(run.run_id)
    assert now.run_id == str(FIRST_RUN_ID) and now.status == "queued"
    assert (await ci.status("op:op-unknown")) == Run(run_id="op:op-unknown", url=None, status="queued")


# -- auth and failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["ghp_wrongToken999", None])
async def test_a_refused_token_is_a_ci_error_naming_the_variable(actions, token):
    async with closing(make_ci(actions, token=token)) as ci:
        with pytest.raises(CIError) as caught:
            await ci.trigger(request())
    assert not isinstance(caught.value, CIUnavailable)
    text = f"{caught.value} {caught.value!r}"
    assert "401" in text and TOKEN_ENV in text and "actions: write" in text
    assert TOKEN not in text and (token is None or token not in text)
    assert actions.started == 0


async def test_an_unknown_workflow_is_a_ci_error_naming_it(actions):
    async with closing(make_ci(actions, workflow="nope.yml")) as ci:
        with pytest.raises(CIError, match=r"404.*nope.yml") as caught:
            await ci.trigger(request())
    assert not isinstance(caught.value, CIUnavailable)


async def test_undeclared_inputs_are_a_ci_error_saying_what_to_declare(actions, ci):
    actions.inputs = ("tag", "version")
    with pytest.raises(CIError, match=r"Unexpected inputs.*operation_id"):
        await ci.trigger(request())


async def test_a_5xx_on_the_dispatch_is_unavailable_and_not_repeated(actions, ci):
    actions.fail_next("POST", r"/dispatches$", status=502)
    with pytest.raises(CIUnavailable, match="502") as caught:
        await ci.trigger(request())
    assert caught.value.maybe_started  # a server error says nothing about what it did first
    assert [c.status for c in actions.calls if c.method == "POST"] == [502]
    assert actions.started == 0 and await ci.find(request()) is None


async def test_a_5xx_on_a_read_is_retried(actions, ci):
    run_id = (await ci.trigger(request())).run_id
    actions.fail_next("GET", r"/runs/\d+$", status=502)
    assert (await ci.status(run_id)).status == "queued"
    assert [c.status for c in actions.calls if c.path.endswith(run_id)] == [502, 200]


async def test_a_dispatch_whose_answer_is_lost_is_found_instead_of_triggered_again(actions):
    async with closing(make_ci(actions, timeout=0.3)) as ci:
        actions.timeout_next("POST", r"/dispatches$", delay=5)
        async with asyncio.timeout(10):
            with pytest.raises(CIUnavailable) as caught:
                await ci.trigger(request("op-lost"))
            assert caught.value.maybe_started
            assert TOKEN not in str(caught.value)
            found = await ci.find(request("op-lost"))
        assert found is not None and found.run_id == str(FIRST_RUN_ID)
        assert actions.started == 1
        assert [c.method for c in actions.calls].count("POST") == 1


async def test_a_stopped_server_is_unavailable_and_nothing_started(actions, ci):
    await actions.stop()
    async with asyncio.timeout(15):
        with pytest.raises(CIUnavailable, match="Can't reach") as caught:
            await ci.trigger(request())
        assert not caught.value.maybe_started
        with pytest.raises(CIUnavailable):
            await ci.status(str(FIRST_RUN_ID))
