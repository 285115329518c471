"""The fake GitLabs held to GitLab's own source and docs, with plain HTTP: if one of these fails, a fake
has drifted from what GitLab answers, and the tests of Tower's GitLab clients prove less than they say."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.ci_gitlab import PROJECT_ID, FakeGitLabCI
from tests.fakes.gitlab_access import DEVELOPER, MAINTAINER
from tests.fakes.gitlab_server import FakeGitLab

TOKEN = "glpat-fake-token"


@pytest.fixture
async def gitlab() -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab("group/project", token=TOKEN) as fake:
        shas = fake.seed([{"message": "one", "files": {"a.md": "a\n"}}])
        for name in ("v1.0.0", "v1.1.0", "V1.2.0-rc1", "v1.2.0", "x-v1"):
            fake.repo.tag(name, shas[0], name)
        yield fake


async def get(fake: FakeGitLab, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.api_url, headers={"PRIVATE-TOKEN": TOKEN}) as client:
        return await client.get(f"/projects/group%2Fproject/{path}", params=params)


async def test_a_searched_first_page_of_tags_holds_every_match_and_still_offers_page_2(gitlab):
    # lib/gitlab/pagination/gitaly_keyset_pager.rb (paginate_first_page_via_gitaly) over TagsFinder.
    first = await get(gitlab, "repository/tags", search="^v1", per_page="2")
    assert [t["name"] for t in first.json()] == ["v1.2.0", "V1.2.0-rc1", "v1.1.0", "v1.0.0"]  # case-insensitive
    assert (first.headers["x-next-page"], first.headers["x-total"], first.headers["x-total-pages"]) == ("2", "5", "3")
    second = await get(gitlab, "repository/tags", search="^v1", per_page="2", page="2")
    assert [t["name"] for t in second.json()] == ["v1.1.0", "v1.0.0"]  # the offset page repeats them
    assert second.headers["x-next-page"] == ""


async def test_an_unsearched_first_page_of_tags_is_per_page_long(gitlab):
    first = await get(gitlab, "repository/tags", per_page="2")
    assert len(first.json()) == 2 and first.headers["x-next-page"] == "2"
    third = await get(gitlab, "repository/tags", per_page="2", page="3")
    assert [t["name"] for t in third.json()] == ["v1.0.0"] and third.headers["x-next-page"] == ""


async def test_a_search_without_anchors_is_a_substring_with_the_exact_match_first(gitlab):
    found = await get(gitlab, "repository/tags", search="v1.2.0")
    assert [t["name"] for t in found.json()] == ["v1.2.0", "V1.2.0-rc1"]


async def test_every_answer_carries_the_throttle_headers_and_429_is_plain_text(gitlab):
    ok = await get(gitlab, "repository/tags")
    assert all(
        h in ok.headers for h in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Observed")
    )
    gitlab.throttle.exhaust(reset_in=42)
    refused = await get(gitlab, "repository/tags")
    assert (refused.status_code, refused.text) == (429, "Retry later\n")
    assert refused.headers["Retry-After"] == "42" and refused.headers["RateLimit-ResetTime"].endswith("GMT")


# -- the CI fake: triggers, pipeline variables, names, roles ----------------------------------------


@pytest.fixture
async def ci() -> AsyncIterator[FakeGitLabCI]:
    async with FakeGitLabCI("group/project", trigger_token="glptt-t", api_token=TOKEN) as fake:
        yield fake


async def trigger(fake: FakeGitLabCI, **variables: str) -> httpx.Response:
    form = {"token": "glptt-t", "ref": "main"} | {f"variables[{k}]": v for k, v in variables.items()}
    async with httpx.AsyncClient(base_url=fake.api_url) as client:
        return await client.post("/projects/group%2Fproject/trigger/pipeline", data=form)


async def test_trigger_variables_follow_the_projects_minimum_role(ci):
    # Ci::PipelineTriggerService renders the pipeline's errors (400); project_policy set_pipeline_variables.
    ci.variables_role = "no_one_allowed"
    refused = await trigger(ci, TOWER_OPERATION_ID="op-1")
    assert refused.status_code == 400
    assert refused.json() == {"message": {"base": ["Insufficient permissions to set pipeline variables"]}}
    assert (await trigger(ci)).status_code == 201  # without variables it runs
    ci.variables_role, ci.trigger_owner.role = "maintainer", DEVELOPER
    assert (await trigger(ci, TOWER_OPERATION_ID="op-1")).status_code == 400
    ci.trigger_owner.role = MAINTAINER
    assert (await trigger(ci, TOWER_OPERATION_ID="op-1")).status_code == 201


async def test_pipeline_variables_are_shown_to_maintainers_and_the_triggerer_only(ci):
    # app/policies/ci/pipeline_policy.rb: admin_pipeline, or update_pipeline and triggerer_of_pipeline.
    pipeline = (await trigger(ci, TOWER_OPERATION_ID="op-1")).json()["id"]
    path = f"projects/{PROJECT_ID}/pipelines/{pipeline}/variables"
    assert (await get_ci(ci, path)).json()[0] == {
        "variable_type": "env_var",
        "key": "TOWER_OPERATION_ID",
        "value": "op-1",
        "raw": False,
    }
    ci.member.role = DEVELOPER
    assert (await get_ci(ci, path)).status_code == 403
    ci.member.user = ci.trigger_owner.user  # its own triggerer, but on the protected default branch
    assert (await get_ci(ci, path)).status_code == 403
    ci.protected_refs = set()
    assert (await get_ci(ci, path)).status_code == 200


async def test_pipelines_are_named_by_workflow_name_with_variables_expanded(ci):
    ci.workflow_name = "tower $TOWER_PIPELINE ${TOWER_OPERATION_ID}"
    await trigger(ci, TOWER_OPERATION_ID="op-1", TOWER_PIPELINE="deploy")
    listed = (await get_ci(ci, f"projects/{PROJECT_ID}/pipelines")).json()
    assert [p["name"] for p in listed] == ["tower deploy op-1"]
    assert "name:" in (await get_ci(ci, f"projects/{PROJECT_ID}/repository/files/.gitlab-ci.yml/raw")).text


async def test_a_project_shows_its_ci_settings_to_maintainers_and_a_token_its_scopes(ci):
    # lib/api/entities/project.rb (CI/CD settings with admin_project); doc/api/personal_access_tokens.md.
    ci.variables_role = "no_one_allowed"
    project = (await get_ci(ci, "projects/group%2Fproject")).json()
    assert project["permissions"]["project_access"]["access_level"] == MAINTAINER
    assert project["ci_pipeline_variables_minimum_override_role"] == "no_one_allowed"
    ci.member.role = DEVELOPER
    assert "ci_pipeline_variables_minimum_override_role" not in (await get_ci(ci, "projects/group%2Fproject")).json()
    assert (await get_ci(ci, "personal_access_tokens/self")).json()["scopes"] == ["read_api"]


async def get_ci(fake: FakeGitLabCI, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.api_url, headers={"PRIVATE-TOKEN": TOKEN}) as client:
        return await client.get(f"/{path}")
