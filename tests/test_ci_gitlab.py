"""GitLab pipelines as Tower's CI: the CI contract, then the exact trigger form and API calls, finding
a pipeline by its TOWER_OPERATION_ID, tokens and failures — above all a trigger whose answer was
lost — against a fake GitLab over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.integrations.ci_gitlab import GitLabPipelineCI
from commands.engine.ports import CIError, CIUnavailable, Run, RunRequest
from tests.ci_contract import *  # noqa: F403
from tests.ci_contract import CIUnderTest, request
from tests.ci_fixtures import closing, under_test
from tests.fakes.ci_gitlab import FIRST_PIPELINE_ID, FakeGitLabCI
from tests.fakes.gitlab_access import DEVELOPER, MAINTAINER

PROJECT = "group/project"
ENCODED = "group%2Fproject"
TRIGGER_TOKEN = "glptt-s3cretTriggerToken0123"
API_TOKEN = "glpat-s3cretApiToken0123456"
TRIGGER_ENV, API_ENV = "TOWER_GL_TRIGGER", "TOWER_GL_TOKEN"


@pytest.fixture
async def gitlab() -> AsyncIterator[FakeGitLabCI]:
    async with FakeGitLabCI(PROJECT, trigger_token=TRIGGER_TOKEN, api_token=API_TOKEN) as fake:
        yield fake


def make_ci(
    gitlab: FakeGitLabCI,
    trigger_token: str | None = TRIGGER_TOKEN,
    api_token: str | None = API_TOKEN,
    timeout: float = 5.0,
    **kwargs,
) -> GitLabPipelineCI:
    return GitLabPipelineCI(
        PROJECT,
        trigger_token,
        api_url=gitlab.api_url,
        api_token=api_token,
        timeout=timeout,
        trigger_token_env=TRIGGER_ENV,
        api_token_env=API_ENV,
        **kwargs,
    )


@pytest.fixture
async def ci(gitlab) -> AsyncIterator[GitLabPipelineCI]:
    async with closing(make_ci(gitlab)) as ci:
        yield ci


@pytest.fixture
def ci_under_test(gitlab, ci) -> CIUnderTest:
    return under_test(ci, gitlab)


# -- the exact calls -----------------------------------------------------------------------------


async def test_trigger_posts_the_token_ref_and_tower_variables_as_form_fields(gitlab, ci):
    run = await ci.trigger(request("op-7"))
    [call] = gitlab.calls
    assert (call.method, call.path) == ("POST", f"/api/v4/projects/{ENCODED}/trigger/pipeline")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.form == {
        "token": TRIGGER_TOKEN,
        "ref": "main",
        "variables[TOWER_OPERATION_ID]": "op-7",
        "variables[TOWER_PIPELINE]": "deploy",
        "variables[TOWER_TAG]": "v1.3.0-rc1",
        "variables[TOWER_VERSION]": "1.3.0",
        "variables[TOWER_ENVIRONMENT]": "devnet",
        "variables[TOWER_CALLBACK_URL]": "http://127.0.0.1:9/hooks/ci",
    }
    assert "PRIVATE-TOKEN" not in call.headers  # the trigger token is all a trigger needs
    assert run == Run(
        run_id=str(FIRST_PIPELINE_ID),
        status="queued",
        url=f"https://gitlab.example.com/{PROJECT}/-/pipelines/{FIRST_PIPELINE_ID}",
    )


async def test_missing_environment_and_callback_are_sent_empty(gitlab, ci):
    await ci.trigger(
        RunRequest(operation_id="op-bare", pipeline="retire", project="demo", version="1.2.0", tag="v1.2.0")
    )
    assert gitlab.variables[FIRST_PIPELINE_ID]["TOWER_ENVIRONMENT"] == ""
    assert gitlab.variables[FIRST_PIPELINE_ID]["TOWER_CALLBACK_URL"] == ""


async def test_find_lists_triggered_pipelines_on_the_ref_then_reads_their_variables(gitlab, ci):
    first = await ci.trigger(request("op-a"))
    await ci.trigger(request("op-b"))
    start = len(gitlab.calls)
    assert (await ci.find(request("op-a"))).run_id == first.run_id
    calls = gitlab.calls[start:]
    base = f"/api/v4/projects/{ENCODED}/pipelines"
    assert [(c.method, c.path, c.query) for c in calls] == [
        ("GET", base, {"source": "trigger", "ref": "main", "per_page": "20"}),
        ("GET", f"{base}/{FIRST_PIPELINE_ID + 1}/variables", {}),  # newest first
        ("GET", f"{base}/{FIRST_PIPELINE_ID}/variables", {}),
    ]
    assert all(c.headers["PRIVATE-TOKEN"] == API_TOKEN for c in calls)


async def test_status_maps_gitlab_pipeline_statuses(gitlab, ci):
    run_id = (await ci.trigger(request())).run_id
    for status, expected in [
        ("created", "queued"),
        ("pending", "queued"),
        ("waiting_for_resource", "queued"),
        ("running", "running"),
        ("success", "succeeded"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("skipped", "failed"),
    ]:
        gitlab.set_status(run_id, status)
        assert (await ci.status(run_id)).status == expected, status
    assert gitlab.calls[-1].path == f"/api/v4/projects/{ENCODED}/pipelines/{run_id}"


async def test_without_an_api_token_status_is_unknown_and_find_refuses_to_guess(gitlab):
    async with closing(make_ci(gitlab, api_token=None)) as ci:
        run = await ci.trigger(request())
        assert (await ci.status(run.run_id)).status == "unknown"
        with pytest.raises(CIError, match=API_ENV) as caught:
            await ci.find(request())  # GitLab would start a second pipeline: "None" would be a lie
        assert not isinstance(caught.value, CIUnavailable)
    assert len(gitlab.calls) == 1


# -- tokens and failures -------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["glptt-wrong", None])
async def test_a_refused_trigger_token_is_a_ci_error_naming_its_variable(gitlab, token):
    async with closing(make_ci(gitlab, trigger_token=token)) as ci:
        with pytest.raises(CIError) as caught:
            await ci.trigger(request())
    assert not isinstance(caught.value, CIUnavailable)
    text = f"{caught.value} {caught.value!r}"
    assert TRIGGER_ENV in text and TRIGGER_TOKEN not in text and (token is None or token not in text)
    assert gitlab.started == 0


async def test_a_refused_api_token_is_a_ci_error_naming_its_variable(gitlab, ci):
    run = await ci.trigger(request())
    async with closing(make_ci(gitlab, api_token="glpat-wrong")) as other:
        for attempt in (lambda: other.find(request()), lambda: other.status(run.run_id)):
            with pytest.raises(CIError) as caught:
                await attempt()
            text = f"{caught.value} {caught.value!r}"
            assert "401" in text and API_ENV in text and "glpat-wrong" not in text and API_TOKEN not in text


async def test_an_unknown_ref_is_a_ci_error_naming_it(gitlab):
    async with closing(make_ci(gitlab, ref="nope")) as ci:
        with pytest.raises(CIError, match=r"Reference not found.*'nope'") as caught:
            await ci.trigger(request())
    assert not isinstance(caught.value, CIUnavailable)


async def test_a_5xx_on_the_trigger_is_unavailable_and_not_repeated(gitlab, ci):
    gitlab.fail_next("POST", r"/trigger/pipeline$", status=502)
    with pytest.raises(CIUnavailable, match="502") as caught:
        await ci.trigger(request())
    assert caught.value.maybe_started and TRIGGER_TOKEN not in str(caught.value)
    assert [c.status for c in gitlab.calls_to("POST", "trigger")] == [502]
    assert gitlab.started == 0 and await ci.find(request()) is None


async def test_a_5xx_on_a_read_is_retried(gitlab, ci):
    run_id = (await ci.trigger(request())).run_id
    gitlab.fail_next("GET", rf"/pipelines/{run_id}$", status=503)
    assert (await ci.status(run_id)).status == "queued"
    assert [c.status for c in gitlab.calls_to("GET", rf"/pipelines/{run_id}$")] == [503, 200]


async def test_a_trigger_whose_answer_is_lost_is_found_instead_of_triggered_again(gitlab):
    async with closing(make_ci(gitlab, timeout=0.3)) as ci:
        gitlab.timeout_next("POST", r"/trigger/pipeline$", delay=5)
        async with asyncio.timeout(10):
            with pytest.raises(CIUnavailable) as caught:
                await ci.trigger(request("op-lost"))
            assert caught.value.maybe_started and TRIGGER_TOKEN not in str(caught.value)
            found = await ci.find(request("op-lost"))
        assert found is not None and found.run_id == str(FIRST_PIPELINE_ID)
        assert gitlab.started == 1 and len(gitlab.calls_to("POST", "trigger")) == 1


async def test_a_stopped_server_is_unavailable_and_nothing_started(gitlab, ci):
    await gitlab.stop()
    async with asyncio.timeout(15):
        with pytest.raises(CIUnavailable, match="Can't reach") as caught:
            await ci.trigger(request())
        assert not caught.value.maybe_started


# -- roles: who may read pipeline variables, who may set them ------------------------------------


async def test_a_developer_token_finds_tower_pipelines_by_name_without_reading_variables(gitlab, ci):
    gitlab.member.role = DEVELOPER  # GitLab shows a Developer no one else's pipeline variables
    gitlab.workflow_name = "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"
    ten = await ci.trigger(request("op-10"))
    one = await ci.trigger(request("op-1"))
    await ci.trigger(request("op-2", pipeline="retire"))
    assert (await ci.find(request("op-1"))).run_id == one.run_id
    assert (await ci.find(request("op-10"))).run_id == ten.run_id
    assert await ci.find(request("op-never")) is None
    assert gitlab.calls_to("GET", "/variables$") == []


async def test_a_developer_token_without_pipeline_names_is_told_what_finds_pipelines(gitlab, ci):
    gitlab.member.role = DEVELOPER
    await ci.trigger(request("op-1"))
    with pytest.raises(CIError) as caught:
        await ci.find(request("op-1"))
    text = str(caught.value)
    assert not isinstance(caught.value, CIUnavailable)
    assert "Maintainer" in text and 'workflow: name: "tower $TOWER_PIPELINE $TOWER_OPERATION_ID"' in text
    assert API_ENV in text and API_TOKEN not in text
    assert [c.status for c in gitlab.calls_to("GET", "/variables$")] == [403]


@pytest.mark.parametrize(("setting", "owner"), [("no_one_allowed", MAINTAINER), ("maintainer", DEVELOPER)])
async def test_a_project_that_refuses_tower_variables_is_told_which_setting_allows_them(gitlab, ci, setting, owner):
    gitlab.variables_role, gitlab.trigger_owner.role = setting, owner
    with pytest.raises(CIError) as caught:
        await ci.trigger(request())
    text = str(caught.value)
    assert not isinstance(caught.value, CIUnavailable) and gitlab.started == 0
    assert "Settings > CI/CD > Variables > Minimum role to use pipeline variables" in text
    assert ".gitlab-ci.yml" not in text and TRIGGER_TOKEN not in text
