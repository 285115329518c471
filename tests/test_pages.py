"""Release pages and the dashboard: the data, the HTML, the static build, the feed."""

import json
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime

import feedparser
import pytest

from bot.pages.feed import atom, entry_id
from bot.pages.site import Publisher, build
from commands.engine.settings import ProjectSettings
from storage.queries import directory, outbox
from tests.git_repos import build_repository
from tests.pages_world import PUBLIC_URL, STATES, XSS, served_world
from tests.release_repos import released_then
from tests.shell_process import run_tower, tower_command, tower_env
from tests.support import make_settings, run
from tests.test_run import free_port
from tests.toml_out import dumps


@pytest.fixture
async def world(tmp_path, db_target, clock):
    async with served_world(tmp_path, db_target, clock) as tower:
        yield tower


async def test_the_dashboard_lists_a_release_in_each_state(world):
    response = await world.client.get("/")
    page = await response.text()
    assert response.status == 200 and response.content_type == "text/html"
    for state in STATES:
        assert f'<span class="state state-{state}">{state}</span>' in page, state


async def test_the_release_page_and_its_json_agree(world):
    data = await (await world.client.get("/releases/simmering/1.3.0.json")).json()
    assert data["release"]["state"] == "simmering" and data["crew"]["pilot"] == "bob"
    assert len(data["simmer"]["samples"]) == 5 and data["candidates"][0]["tag"] == "v1.3.0-rc1"
    assert data["scope"]["features"][0]["title"] == XSS
    assert [t["to"] for t in data["timeline"]] == ["planning", "named", "frozen", "candidate", "deploying", "simmering"]
    page = await (await world.client.get("/releases/simmering/1.3.0")).text()
    assert page.count('<circle class="point') == 5
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; friends" in page and "<script>" not in page
    assert (await world.client.get("/releases/simmering/9.9.9.json")).status == 404
    assert (await world.client.get("/releases/planning/r1.html")).status == 200  # not named yet: by number


async def test_candidates_link_to_their_tags_on_the_forge(world):
    page = await (await world.client.get("/releases/simmering/1.3.0")).text()
    assert '<a href="https://git.example.org/simmering/tags/v1.3.0-rc1">v1.3.0-rc1</a>' in page
    plain = await (await world.client.get("/releases/frozen/r1.json")).json()
    assert all(c["url"] is None for c in plain["candidates"])  # a local repository has no web page


@pytest.mark.parametrize(
    ("forge", "url", "template", "expected"),
    [
        ("github", None, None, "https://github.com/acme/app/releases/tag/v1.2.3%2B1"),
        ("github", "https://git.acme.test/api/v3", None, "https://git.acme.test/acme/app/releases/tag/v1.2.3%2B1"),
        ("gitlab", None, None, "https://gitlab.com/acme/app/-/tags/v1.2.3%2B1"),
        ("gitlab", "https://lab.acme.test/api/v4/", None, "https://lab.acme.test/acme/app/-/tags/v1.2.3%2B1"),
        ("local", None, None, None),
        ("local", None, "https://cgit.acme.test/app/tag/?h={tag}", "https://cgit.acme.test/app/tag/?h=v1.2.3%2B1"),
    ],
)
def test_where_a_tag_can_be_browsed(forge, url, template, expected):
    project = ProjectSettings(key="app", repository="acme/app", forge=forge, forge_url=url, tag_url=template)
    assert project.tag_link("v1.2.3+1") == expected


async def test_the_feed_is_valid_atom_with_releases_announcements_and_retirements(world):
    """Read by feedparser, as feed readers do, and held to RFC 4287's MUSTs."""
    response = await world.client.get("/feed.xml")
    assert response.status == 200 and response.content_type == "application/atom+xml"
    parsed = feedparser.parse(await response.text())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    feed = parsed.feed
    async with world.services.db.read() as session:
        installation = await directory.installation_uid(session)
    assert feed.id == entry_id(installation, "feed") and feed.id.startswith("urn:uuid:")
    assert (
        feed.title and feed.updated_parsed and feed.author_detail.name == "Tower"
    )  # 4.1.1: author, id, title, updated
    links = {link.rel: link.href for link in feed.links}
    assert links["self"] == f"{PUBLIC_URL}/feed.xml" and links["alternate"] == f"{PUBLIC_URL}/index.html"
    for entry in parsed.entries:  # 4.1.2: id, title, updated; a link or content
        assert entry.id.startswith("urn:uuid:") and entry.title and entry.updated_parsed, entry
        assert entry.link.startswith(f"{PUBLIC_URL}/releases/") and entry.content[0].value
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)  # 4.2.6: ids are unique
    titles = sorted(e.title for e in parsed.entries)
    assert titles == [
        "Project released 1.3.0 announced",
        "Project released 1.3.0 shipped",
        "Project retired 1.3.0 announced",
        "Project retired 1.3.0 retired",
        "Project retired 1.3.0 shipped",
        "Project retired 1.3.1 announced",
        "Project retired 1.3.1 shipped",
    ]
    for entry in parsed.entries:  # every link leads to the release's page
        assert (await world.client.get(entry.link.removeprefix(PUBLIC_URL))).status == 200, entry.link
    shipped = next(e for e in parsed.entries if e.title == "Project released 1.3.0 shipped")
    assert shipped.author == "Alice"  # who shipped it


def test_feed_ids_differ_between_installations_and_stay_put_within_one():
    one, other = uuid.uuid4().hex, uuid.uuid4().hex
    assert entry_id(one, "release/1/shipped") == entry_id(one, "release/1/shipped")
    assert entry_id(one, "release/1/shipped") != entry_id(other, "release/1/shipped")
    assert entry_id(one, "release/1/shipped") != entry_id(one, "release/1/retired")
    assert uuid.UUID(entry_id("not-a-uuid", "feed").removeprefix("urn:uuid:")).version == 5


def test_a_feed_without_a_public_address_links_relative_to_itself():
    at = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    text = atom(
        [
            {
                "key": "announcement/1",
                "title": "demo 1.3.0",
                "text": "Out now & <b>",
                "at": at,
                "link": "releases/demo/1.3.0.html",
                "author": None,
            }
        ],
        installation=uuid.uuid4().hex,
        self_url="feed.xml",
        home_url="index.html",
        updated=at,
    )
    parsed = feedparser.parse(
        text,
        response_headers={
            "content-location": "https://static.example.net/tower/feed.xml",
            "content-type": "application/atom+xml",
        },
    )
    assert not parsed.bozo and parsed.entries[0].content[0].value == "Out now & <b>"
    assert parsed.entries[0].link == "https://static.example.net/tower/releases/demo/1.3.0.html"
    assert parsed.feed.author == "Tower"  # 4.1.1: an entry without its own author has the feed's


async def test_status_cards_and_simmer_reports_link_to_the_page_they_describe(world):
    for command, ref, version in [
        ("/release status simmering", "1.3.0", "1.3.0"),
        ("/simmer report simmering", "1.3.0", "1.3.0"),
        ("/release status planning", "r1", None),
    ]:
        reply = await run(world, command)
        link = next(f.value for f in reply.fields if f.label == "Page")
        assert link == f"{PUBLIC_URL}/releases/{command.split()[-1]}/{ref}", command
        data = await (await world.client.get(link.removeprefix(PUBLIC_URL) + ".json")).json()
        assert data["release"]["version"] == version and data["project"]["key"] == command.split()[-1]


async def test_the_announcement_links_to_the_release_page(world):
    async with world.services.db.read() as session:
        said = [m.payload for m in await outbox.all_for(session, "console:announce")]
    shipped = [p for p in said if "Project released 1.3.0 is out" in p]
    assert len(shipped) == 1 and f"Release notes: {PUBLIC_URL}/releases/released/1.3.0" in shipped[0]
    assert (await world.client.get("/releases/released/1.3.0")).status == 200


async def test_a_static_build_writes_the_same_pages(world, tmp_path):
    written = await build(world.services, tmp_path / "site")
    names = {p.relative_to(tmp_path / "site").as_posix() for p in written}
    assert {
        "index.html",
        "style.css",
        "feed.xml",
        "releases/simmering/1.3.0.html",
        "releases/planning/r1.json",
    } <= names
    page = (tmp_path / "site" / "releases" / "simmering" / "1.3.0.html").read_text()
    assert 'href="../../style.css"' in page and "http" not in page.split("<main>")[0].replace("http-equiv", "")
    assert (
        json.loads((tmp_path / "site" / "releases" / "simmering" / "1.3.0.json").read_text())["release"]["version"]
        == "1.3.0"
    )


async def test_the_published_copy_follows_every_change_not_only_state_changes(world, tmp_path):
    out = tmp_path / "published"
    publisher = Publisher(world.services, out)
    first = await publisher.publish()
    assert first >= len(STATES) and first == len(list(out.glob("releases/*/*.json")))
    assert await publisher.publish() == 0  # nothing changed, nothing rewritten
    page = out / "releases" / "simmering" / "1.3.0.html"
    assert "Security review" not in page.read_text()
    assert (await run(world, '/checklist add simmering "Security review" --before ship')).ok  # no state change
    assert await publisher.publish() == 1 and "Security review" in page.read_text()
    assert json.loads((out / "releases" / "planning" / "r1.json").read_text())["release"]["version"] is None
    assert (await run(world, "/release name planning --yes")).ok
    assert await publisher.publish() == 1
    named = (await (await world.client.get("/releases/planning/r1.json")).json())["release"]["version"]
    assert named and (out / "releases" / "planning" / f"{named}.html").is_file()
    assert f"url={named}.html" in (out / "releases" / "planning" / "r1.html").read_text()  # old links still lead there
    assert not (out / "releases" / "planning" / "r1.json").exists()
    assert f"releases/planning/{named}.html" in (out / "index.html").read_text()


def test_tower_pages_build_from_the_shell(tmp_path):
    env = tower_env(tmp_path / "data")
    run_tower(["shell", "--as", "alice"], tmp_path, env, stdin="/release new demo\n")
    result = run_tower(["pages", "build", str(tmp_path / "out")], tmp_path, env)
    assert result.returncode == 0 and "Wrote" in result.stdout
    assert (tmp_path / "out" / "releases" / "demo" / "r1.html").is_file()
    assert (tmp_path / "out" / "releases" / "demo" / "index.html").is_file()
    # Without public_url the static feed links relative to itself, wherever it is served from.
    parsed = feedparser.parse(
        (tmp_path / "out" / "feed.xml").read_text(),
        response_headers={
            "content-location": "https://static.example.net/feed.xml",
            "content-type": "application/atom+xml",
        },
    )
    assert not parsed.bozo and parsed.feed.id.startswith("urn:uuid:")
    assert {link.rel: link.href for link in parsed.feed.links}["self"] == "https://static.example.net/feed.xml"


def test_tower_run_keeps_the_published_pages_current(tmp_path, db_target):
    """With `pages_dir`, `tower run` republishes a release's page after a change made elsewhere (here
    by the shell, a separate process on the same database)."""
    published, config = tmp_path / "published", tmp_path / "tower.toml"
    data = make_settings(tmp_path / "data").model_dump(exclude={"source", "data_dir"})
    build_repository(tmp_path / "demo.git", released_then())
    data["projects"]["demo"]["repository"] = str(tmp_path / "demo.git")
    data["tower"].update(pages_dir=str(published), tick_seconds=0.2)
    config.write_text(dumps(data))
    env = tower_env(tmp_path / "data", {"TOWER_HTTP_PORT": str(free_port()), **db_target.env()})
    proc = subprocess.Popen(
        [*tower_command(), "--config", str(config), "run"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        shell = ["--config", str(config), "shell", "--as", "alice"]
        assert run_tower(shell, tmp_path, env, stdin="/release new demo\n").returncode == 0
        page = published / "releases" / "demo" / "r1.json"
        assert _eventually(lambda: page.is_file() and json.loads(page.read_text())["release"]["state"] == "planning")
        assert run_tower(shell, tmp_path, env, stdin="/release abort demo --reason 'wrong branch'\n").returncode == 0
        assert _eventually(lambda: json.loads(page.read_text())["release"]["state"] == "aborted")
        assert "wrong branch" in (published / "releases" / "demo" / "r1.html").read_text()
        assert "aborted" in (published / "index.html").read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err


def _eventually(check, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
