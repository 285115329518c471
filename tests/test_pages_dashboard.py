"""The dashboard remembers: releases shipped, retired or aborted in the last 90 days stay on it with
links, every project has an archive page, release notes are Markdown rendered safely, times carry
their zone, and a shipped release's simmer is no longer "running"."""

from __future__ import annotations

import re

import pytest

from bot.pages.notes import render
from bot.pages.site import build
from commands.engine.settings import ProjectSettings
from tests.pages_world import served_world
from tests.support import run


@pytest.fixture
async def world(tmp_path, db_target, clock):
    async with served_world(tmp_path, db_target, clock) as tower:
        yield tower


async def _page(world, path: str) -> str:
    response = await world.client.get(path)
    assert response.status == 200, path
    return await response.text()


async def test_a_shipped_release_stays_on_the_dashboard_after_the_next_one_opens(world):
    assert (await run(world, "/release new released")).ok  # released#2: the next cycle begins
    page = await _page(world, "/")
    section = page.split('id="p-released"', 1)[1].split("</section>", 1)[0]
    assert '<a href="releases/released/r2.html">released#2</a>' in section
    recent = section.split('class="recent"', 1)[1]
    assert '<a href="releases/released/1.3.0.html">released 1.3.0</a>' in recent
    assert '<span class="state state-released">released</span>' in recent
    shipped_row = recent.split("released 1.3.0", 1)[1].split("</tr>", 1)[0]
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", shipped_row)  # when it shipped
    aborted = page.split('id="p-aborted"', 1)[1].split("</section>", 1)[0]
    assert '<a href="releases/aborted/r1.html">aborted#1</a>' in aborted.split('class="recent"', 1)[1]
    retired = page.split('id="p-retired"', 1)[1].split("</section>", 1)[0]
    assert "retired 1.3.0" in retired and "retired 1.3.1" in retired and "No open release." in retired
    assert (await world.client.get("/releases/released/1.3.0.html")).status == 200  # the link leads somewhere


async def test_after_90_days_a_release_leaves_the_dashboard_but_not_the_archive(world):
    world.services.clock.advance(days=91)
    page = await _page(world, "/")
    section = page.split('id="p-released"', 1)[1].split("</section>", 1)[0]
    assert "released 1.3.0" not in section and "(1 older not shown here)" in section
    assert '<a href="releases/released/index.html">Every release of Project released</a>' in section
    archive = await _page(world, "/releases/released/")
    assert archive == await _page(world, "/releases/released/index.html")
    assert '<a href="../../releases/released/1.3.0.html">released 1.3.0</a>' in archive
    assert (await world.client.get("/releases/nosuchproject/")).status == 404


async def test_a_static_build_writes_each_projects_archive(world, tmp_path):
    await build(world.services, tmp_path / "site")
    archive = (tmp_path / "site" / "releases" / "retired" / "index.html").read_text()
    assert "retired 1.3.0" in archive and "retired 1.3.1" in archive and 'href="../../style.css"' in archive


async def test_every_time_on_a_release_page_names_its_zone(world):
    page = await _page(world, "/releases/simmering/1.3.0")
    times = re.findall(r"<time datetime=\"([^\"]+)\">([^<]+)</time>", page)
    assert times and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d (CET|CEST)", shown) for _, shown in times)
    timeline = page.split('id="timeline"', 1)[1]
    assert re.search(r"<time datetime=\"[^\"]+\">\d{4}-\d\d-\d\d \d\d:\d\d CES?T</time>", timeline)
    utc = await _page(world, "/releases/released/1.3.0")
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d UTC</time>", utc)


async def test_release_notes_are_rendered_markdown(world):
    page = await _page(world, "/releases/simmering/1.3.0")
    notes = page.split('class="notes">', 1)[1].split("</div>", 1)[0]
    assert "<h3>Added</h3>" in notes and "<li>Pausing block production.</li>" in notes and "###" not in notes


async def test_a_shipped_releases_simmer_is_not_running(world):
    assert (await run(world, "/release ship simmering --override 'hotfix, no time to simmer'")).ok
    data = await (await world.client.get("/releases/simmering/1.3.0.json")).json()
    assert data["release"]["state"] == "released" and data["simmer"]["state"] == "ended at ship"
    page = await _page(world, "/releases/simmering/1.3.0")
    simmer = page.split('id="simmer"', 1)[1].split("</section>", 1)[0]
    assert "running" not in simmer and "ended at ship" in simmer and "day " not in simmer
    dashboard = await _page(world, "/")
    assert "running" not in dashboard.split('id="p-simmering"', 1)[1].split("</section>", 1)[0]


def test_notes_markdown_is_safe_and_links_pull_requests():
    html = render(
        "### Fixed\n\n- Crash on start (#12), see [the PR](https://example.org/x#3)\n"
        "- <script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=alert(1)>\n",
        "https://github.com/acme/app/pull/{number}",
    )
    assert '(<a href="https://github.com/acme/app/pull/12">#12</a>)' in html
    assert '<a href="https://example.org/x#3">the PR</a>' in html  # a link's own text is left alone
    assert "<script>" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "#7" in render("issue #7 stays text without a forge", None) and "<a" not in render("#7", None)


async def test_a_page_on_a_just_shipped_release_shows_on_the_dashboard(world):
    reply = await run(world, "/page released 'the API is down'")  # no open release: the one just shipped
    assert reply.ok, reply.text
    page = await _page(world, "/")
    row = page.split('id="p-released"', 1)[1].split("released 1.3.0", 1)[1].split("</tr>", 1)[0]
    assert "the API is down" in row


@pytest.mark.parametrize(
    ("forge", "url", "expected"),
    [
        ("github", None, "https://github.com/acme/app/pull/12"),
        ("github", "https://git.acme.test/api/v3", "https://git.acme.test/acme/app/pull/12"),
        ("gitlab", None, "https://gitlab.com/acme/app/-/merge_requests/12"),
        ("gitlab", "https://lab.acme.test/api/v4/", "https://lab.acme.test/acme/app/-/merge_requests/12"),
        ("local", None, None),
    ],
)
def test_where_a_pull_request_can_be_read(forge, url, expected):
    project = ProjectSettings(key="app", repository="acme/app", forge=forge, forge_url=url)
    assert project.pull_link("12") == expected
