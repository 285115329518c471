"""The fake GitLabs held to GitLab's own source and docs, with plain HTTP: if one of these fails, a fake
has drifted from what GitLab answers, and the tests of Tower's GitLab clients prove less than they say."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

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
