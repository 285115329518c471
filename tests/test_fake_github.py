"""The fake GitHubs held to GitHub's REST description (version 2022-11-28) and its rate-limit rules, with
plain HTTP: if one of these fails, a fake has drifted from what GitHub answers. (The contents API's
size limits are held in test_github_contents.)"""

from __future__ import annotations

import time
from base64 import b64decode
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.ci_github import FIRST_RUN_ID, FakeGitHubActions
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_tokens import EVERYTHING, Grant

TOKEN = "ghp_fake"
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept": "application/vnd.github+json",
    "X-GitHub-Api-Version": "2022-11-28",
}
INPUTS = {
    "tag": "v1",
    "version": "1",
    "operation_id": "op-1",
    "pipeline": "deploy",
    "environment": "",
    "callback_url": "",
}
RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used", "x-ratelimit-reset")


@pytest.fixture
async def actions() -> AsyncIterator[FakeGitHubActions]:
    async with FakeGitHubActions("acme/demo", "deploy.yml", token=TOKEN) as fake:
        yield fake


async def dispatch(fake: FakeGitHubActions, **extra: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=fake.base_url, headers=HEADERS) as client:
        body = {"ref": "main", "inputs": INPUTS, **extra}
        return await client.post("/repos/acme/demo/actions/workflows/deploy.yml/dispatches", json=body)


async def test_a_dispatch_asking_for_run_details_gets_200_with_the_run(actions):
    # actions/create-workflow-dispatch: 200 with workflow-dispatch-response (workflow_run_id, run_url, html_url).
    answer = await dispatch(actions, return_run_details=True)
    assert answer.status_code == 200
    assert answer.json() == {
        "workflow_run_id": FIRST_RUN_ID,
        "run_url": f"{actions.base_url}/repos/acme/demo/actions/runs/{FIRST_RUN_ID}",
        "html_url": f"https://github.com/acme/demo/actions/runs/{FIRST_RUN_ID}",
    }


async def test_a_dispatch_without_it_or_on_a_server_without_it_gets_204_and_no_body(actions):
    plain = await dispatch(actions)
    assert (plain.status_code, plain.content) == (204, b"")
    actions.run_details = False
    older = await dispatch(actions, return_run_details=True)
    assert (older.status_code, older.content) == (204, b"")
    assert actions.started == 2


async def test_every_answer_carries_the_primary_limit_and_a_used_up_quota_refuses(actions):
    answer = await dispatch(actions)
    assert all(h in answer.headers for h in RATE_HEADERS)
    actions.limits.exhaust(reset_in=120, status=429)
    refused = await dispatch(actions)
    assert refused.status_code == 429 and refused.headers["x-ratelimit-remaining"] == "0"
    assert abs(int(refused.headers["x-ratelimit-reset"]) - (time.time() + 120)) < 5  # Unix seconds of the reset
    assert refused.json()["message"].startswith("API rate limit exceeded") and actions.started == 1


async def test_a_secondary_limit_says_so_with_or_without_retry_after():
    async with FakeGitHub("acme/demo", token=TOKEN) as github:
        github.seed([{"message": "one", "files": {"a.md": "a\n"}}])
        github.limits.secondary_next(status=403, retry_after=60)
        github.limits.secondary_next(status=403)
        async with httpx.AsyncClient(base_url=github.base_url, headers=HEADERS) as client:
            first, second, third = [await client.get("/repos/acme/demo/commits/main") for _ in range(3)]
    assert (first.status_code, first.headers["retry-after"]) == (403, "60")
    assert "secondary rate limit" in first.json()["message"]
    assert second.status_code == 403 and "retry-after" not in second.headers
    assert third.status_code == 200 and int(third.headers["x-ratelimit-remaining"]) > 0


async def test_a_token_is_refused_for_a_missing_permission_before_its_request_is_read():
    async with FakeGitHub("acme/demo", token=TOKEN) as github:
        github.seed([{"message": "one", "files": {"a.md": "a\n"}}])
        async with httpx.AsyncClient(base_url=github.base_url, headers=HEADERS) as client:
            assert (await client.post("/repos/acme/demo/issues", json={})).status_code == 422  # title missing
            github.grant = Grant(EVERYTHING | {"issues": "read"})
            refused = await client.post("/repos/acme/demo/issues", json={})
            assert refused.status_code == 403
            assert refused.json()["message"] == "Resource not accessible by personal access token"
            assert (await client.get("/repos/acme/demo/issues/1")).status_code == 404  # reading is allowed
            github.grant = Grant.classic("repo", "workflow")
            repo = await client.get("/repos/acme/demo")
    assert repo.headers["X-OAuth-Scopes"] == "repo, workflow" and repo.json()["permissions"]["push"] is True


async def test_a_workflow_its_file_and_the_server_describe_themselves(actions):
    headers = HEADERS | {"Accept": "application/vnd.github.object+json"}
    async with httpx.AsyncClient(base_url=actions.base_url, headers=headers) as client:
        workflow = (await client.get("/repos/acme/demo/actions/workflows/deploy.yml")).json()
        assert (workflow["path"], workflow["state"]) == (".github/workflows/deploy.yml", "active")
        item = (await client.get(f"/repos/acme/demo/contents/{workflow['path']}", params={"ref": "main"})).json()
        assert (
            "run-name: tower ${{ inputs.pipeline }} ${{ inputs.operation_id }}" in b64decode(item["content"]).decode()
        )
        assert "installed_version" not in (await client.get("/meta")).json()  # GitHub.com
        actions.installed_version = "3.14.2"
        assert (await client.get("/meta")).json()["installed_version"] == "3.14.2"  # GitHub Enterprise Server
