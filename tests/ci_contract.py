"""The CI contract: what every CI provider (GitHub Actions, GitLab pipelines, a webhook, a local
command) must do, as tests. A provider's test module imports these (`from tests.ci_contract import *`)
and provides a fixture `ci_under_test` returning a `CIUnderTest`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from commands.engine.ports import CI, RunRequest


@dataclass
class CIUnderTest:
    ci: CI
    started: Callable[[], Awaitable[int]]  # how many pipelines the CI has really started
    pollable: bool = True  # False: the CI reports only by callback (status is "unknown")
    findable: bool = True  # False: the CI deduplicates by operation id itself (find returns None)


def request(op: str = "op-1", pipeline: str = "deploy") -> RunRequest:
    return RunRequest(
        operation_id=op,
        pipeline=pipeline,
        project="demo",
        version="1.3.0",
        tag="v1.3.0-rc1",
        environment="devnet",
        callback_url="http://127.0.0.1:9/hooks/ci",
    )


async def test_trigger_starts_one_run(ci_under_test: CIUnderTest):
    run = await ci_under_test.ci.trigger(request())
    assert run.run_id and run.status in ("queued", "running", "succeeded", "unknown")
    assert await ci_under_test.started() == 1


async def test_a_triggered_run_can_be_found_by_its_operation_id(ci_under_test: CIUnderTest):
    run = await ci_under_test.ci.trigger(request("op-find"))
    found = await ci_under_test.ci.find(request("op-find"))
    if ci_under_test.findable:
        assert found is not None and found.run_id == run.run_id
        assert await ci_under_test.ci.find(request("op-never")) is None
    else:
        assert found is None


async def test_triggering_the_same_operation_again_starts_nothing_new_when_it_cannot_be_found(
    ci_under_test: CIUnderTest,
):
    if ci_under_test.findable:
        return  # Tower finds the run instead of triggering again
    await ci_under_test.ci.trigger(request("op-twice"))
    await ci_under_test.ci.trigger(request("op-twice"))
    assert await ci_under_test.started() == 1


async def test_status_follows_the_run(ci_under_test: CIUnderTest):
    run = await ci_under_test.ci.trigger(request("op-status"))
    status = await ci_under_test.ci.status(run.run_id)
    assert status.run_id == run.run_id
    assert status.status in (("queued", "running", "succeeded", "failed") if ci_under_test.pollable else ("unknown",))


__all__ = [name for name in dir() if name.startswith("test_")] + ["CIUnderTest", "request"]
