"""Rate limits as GitHub and GitLab document them: Tower waits as long as the service says (never less),
within one call only briefly, and otherwise says until when and sends nothing before then; a rate limit
is never taken for a bad token, a bad setting or a refused deploy. Time is a fake clock shared by the
clients and the fake servers, so waiting a minute takes no time."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.integrations.ci_github import GitHubActionsCI
from bot.integrations.ci_gitlab import GitLabPipelineCI
from bot.integrations.forge_github import GitHubForge
from bot.integrations.forge_gitlab import GitLabForge
from bot.integrations.http import ForgeRateLimited
from bot.integrations.rate_limits import Waiting
from commands.engine.ports import CIUnavailable, ForgeAuthError, ForgeUnavailable
from tests.ci_contract import request
from tests.ci_fixtures import closing
from tests.fakes.ci_github import FakeGitHubActions
from tests.fakes.ci_gitlab import FakeGitLabCI
from tests.fakes.clock import FakeClock
from tests.fakes.github_server import FakeGitHub
from tests.fakes.gitlab_server import FakeGitLab
from tests.forge_contract import SEED

TOKEN = "ghp_s3cretTokenValue0123456789"
GL_TOKEN = "glpat-s3cretToken0123456789"


class Timeline:
    """One fake clock for a client and a fake server; the client's sleeps move it and are recorded."""

    def __init__(self) -> None:
        self.clock = FakeClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
        self.slept: list[float] = []

    def epoch(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds=seconds)
        await asyncio.sleep(0)

    def waiting(self, patience: float = 30.0) -> Waiting:
        return Waiting(now=self.clock.now, sleep=self.sleep, patience=patience, rng=random.Random(7))


@pytest.fixture
def time() -> Timeline:
    return Timeline()


@pytest.fixture
async def github(time) -> AsyncIterator[FakeGitHub]:
    async with FakeGitHub("acme/demo", token=TOKEN) as fake:
        fake.limits.now = time.epoch
        fake.seed(SEED)
        yield fake


def github_forge(github: FakeGitHub, time: Timeline, patience: float = 30.0) -> GitHubForge:
    return GitHubForge("acme/demo", TOKEN, github.base_url, waiting=time.waiting(patience))


def statuses(fake) -> list[int]:
    return [c.status for c in fake.calls]


# -- GitHub: the primary limit ------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 429])
async def test_a_quota_that_comes_back_soon_is_waited_out_once(github, time, status):
    github.limits.exhaust(reset_in=20, status=status)
    async with closing(github_forge(github, time)) as forge:
        assert (await forge.head("main")).message.startswith("fix!")
    assert statuses(github) == [status, 200]
    assert len(time.slept) == 1 and 20 <= time.slept[0] <= 21  # until the reset, plus at most a second of jitter


@pytest.mark.parametrize("status", [403, 429])
async def test_a_quota_that_comes_back_later_says_until_when_and_sends_nothing_before(github, time, status):
    github.limits.exhaust(reset_in=600, status=status)
    async with closing(github_forge(github, time)) as forge:
        with pytest.raises(ForgeRateLimited) as caught:
            await forge.read_file("CHANGELOG.md", "main")
        text = str(caught.value)
        assert "rate limiting" in text and "09:10 UTC" in text and "API rate limit exceeded" in text
        assert not isinstance(caught.value, ForgeAuthError) and "tower.toml" not in text and TOKEN not in text
        assert statuses(github) == [status] and time.slept == []
        with pytest.raises(ForgeRateLimited, match="09:10 UTC"):
            await forge.tags()  # held off: not even asked
        assert len(github.calls) == 1
        time.clock.advance(seconds=601)
        assert [t.name for t in await forge.tags()] == ["v1.2.0"]
    assert statuses(github) == [status, 200]


async def test_the_last_request_of_a_quota_holds_the_next_until_the_reset(github, time):
    github.limits.used = github.limits.limit - 1
    github.limits.reset_at = time.epoch() + 10
    async with closing(github_forge(github, time)) as forge:
        await forge.head("main")  # answered with x-ratelimit-remaining: 0
        await forge.head("main")
    assert statuses(github) == [200, 200]  # no refusal provoked
    assert len(time.slept) == 1 and 10 <= time.slept[0] <= 11


# -- GitHub: secondary limits ---------------------------------------------------------------------


async def test_retry_after_is_waited_in_full(github, time):
    github.limits.secondary_next(status=429, retry_after=60)
    async with closing(github_forge(github, time, patience=120)) as forge:
        await forge.head("main")
    assert statuses(github) == [429, 200] and 60 <= time.slept[0] <= 61  # not cut to 30


async def test_a_retry_after_longer_than_a_call_may_wait_is_reported_not_shortened(github, time):
    github.limits.secondary_next(status=403, retry_after=60)
    async with closing(github_forge(github, time)) as forge:
        with pytest.raises(ForgeRateLimited, match=r"secondary rate limit.*09:01 UTC"):
            await forge.head("main")
        time.clock.advance(seconds=20)
        with pytest.raises(ForgeRateLimited):
            await forge.head("main")  # 40 s more than a call waits: reported, not asked early
        assert statuses(github) == [403] and time.slept == []
        time.clock.advance(seconds=10)
        await forge.head("main")  # 30 s: waited out to the second, then asked
    assert statuses(github) == [403, 200] and 30 <= time.slept[0] <= 31


async def test_without_retry_after_a_secondary_limit_waits_a_minute_then_longer(github, time):
    github.limits.secondary_next(status=403, count=2)
    async with closing(github_forge(github, time, patience=600)) as forge:
        await forge.head("main")
    assert statuses(github) == [403, 403, 200]
    assert 60 <= time.slept[0] <= 61 and 120 <= time.slept[1] <= 121


async def test_a_503_that_says_when_to_come_back_is_not_asked_sooner(github, time):
    github.fail_next("GET", r"/commits/", status=503, headers={"Retry-After": "12"})
    async with closing(github_forge(github, time)) as forge:
        await forge.head("main")
        assert statuses(github) == [503, 200] and time.slept[0] == 12
        github.fail_next("GET", r"/commits/", status=503, headers={"Retry-After": "120"})
        with pytest.raises(ForgeUnavailable, match="503"):
            await forge.head("main")  # longer than a call waits: reported, not asked early
    assert statuses(github) == [503, 200, 503]


# -- GitLab ---------------------------------------------------------------------------------------


@pytest.fixture
async def gitlab(time) -> AsyncIterator[FakeGitLab]:
    async with FakeGitLab("group/project", token=GL_TOKEN) as fake:
        fake.throttle.now = time.epoch
        fake.seed(SEED)
        yield fake


async def test_gitlab_429_is_waited_out_as_retry_after_says(gitlab, time):
    gitlab.throttle.exhaust(reset_in=15)
    async with closing(GitLabForge("group/project", GL_TOKEN, gitlab.api_url, waiting=time.waiting())) as forge:
        assert (await forge.head("main")).message.startswith("fix!")
    assert statuses(gitlab) == [429, 200] and 15 <= time.slept[0] <= 16


async def test_gitlab_429_for_longer_says_until_when_and_sends_nothing_before(gitlab, time):
    gitlab.throttle.exhaust(reset_in=300)
    async with closing(GitLabForge("group/project", GL_TOKEN, gitlab.api_url, waiting=time.waiting())) as forge:
        with pytest.raises(ForgeRateLimited) as caught:
            await forge.tags()
        assert "09:05 UTC" in str(caught.value) and "tower.toml" not in str(caught.value)
        with pytest.raises(ForgeRateLimited):
            await forge.head("main")
    assert statuses(gitlab) == [429]


# -- CI: rate limited is "not now", never "refused" -----------------------------------------------


async def test_a_rate_limited_dispatch_did_not_start_and_is_not_refused(time):
    async with FakeGitHubActions("acme/demo", "deploy.yml", token=TOKEN) as actions:
        actions.limits.now = time.epoch
        actions.limits.exhaust(reset_in=600)
        ci = GitHubActionsCI("acme/demo", "deploy.yml", TOKEN, api_url=actions.base_url, waiting=time.waiting())
        async with closing(ci):
            with pytest.raises(CIUnavailable, match="09:10 UTC") as caught:
                await ci.trigger(request())
            assert not caught.value.maybe_started
            with pytest.raises(CIUnavailable):
                await ci.find(request())
        assert actions.started == 0 and len(actions.calls) == 1


async def test_a_rate_limited_pipeline_lookup_is_unavailable_not_refused(time):
    async with FakeGitLabCI("group/project", trigger_token="glptt-t", api_token=GL_TOKEN) as gitlab:
        gitlab.throttle.now = time.epoch
        ci = GitLabPipelineCI(
            "group/project", "glptt-t", api_url=gitlab.api_url, api_token=GL_TOKEN, waiting=time.waiting()
        )
        async with closing(ci):
            await ci.trigger(request())
            gitlab.throttle.exhaust(reset_in=3600)
            with pytest.raises(CIUnavailable, match="10:00 UTC"):
                await ci.find(request())
