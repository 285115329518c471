"""The pages in a real browser: headless Chromium (the system's, driven by Playwright) against
`tower run` on 127.0.0.1."""

import asyncio
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from bot.app import open_tower
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.pages_world import STATES, XSS, build_world, world_settings
from tests.shell_process import tower_command, tower_env
from tests.support import run
from tests.test_run import free_port, wait_for
from tests.toml_out import dumps

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI sets TOWER_TEST_REQUIRE_BROWSER so that a missing browser fails the run instead of skipping.
if CHROMIUM is None and os.environ.get("TOWER_TEST_REQUIRE_BROWSER"):
    raise RuntimeError("TOWER_TEST_REQUIRE_BROWSER is set but Chromium is not on PATH")
playwright = pytest.importorskip("playwright.async_api", reason="the browser tests need the playwright package")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="the browser tests need Chromium (Debian package chromium)")
ARTIFACTS = Path(os.environ.get("TOWER_TEST_ARTIFACTS", "test-artifacts"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def site(tmp_path, clock):
    async with FakeCIWebhook(secret="world") as receiver:
        settings = world_settings(tmp_path, receiver.url)
        env = tower_env(tmp_path / "data", {"WORLD_SECRET": "world"})
        tower = await open_tower(settings, env, clock=clock)
        await build_world(tower, samples=6)
        assert (await run(tower, "/release new released")).ok  # the next cycle opens after 1.3.0 shipped
        await tower.close()
    config = tmp_path / "world.toml"
    config.write_text(dumps(settings.model_dump(exclude={"source", "data_dir"})))
    port = free_port()
    proc = subprocess.Popen(
        [*tower_command(), "--config", str(config), "run"],
        cwd=tmp_path,
        env={**env, "TOWER_HTTP_PORT": str(port)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await asyncio.to_thread(wait_for, f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.communicate, timeout=30)


@pytest.fixture
async def browser():
    async with playwright.async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        await chromium.close()


async def test_the_dashboard_shows_every_state_and_a_release_page_its_chart(site, browser):
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(f"{site}/")
    for state in STATES:
        assert await page.locator(f".state-{state}").count() >= 1, state
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    await page.get_by_role("link", name="simmering 1.3.0").click()
    await page.wait_for_url(f"{site}/releases/simmering/1.3.0.html")
    assert await page.locator("svg.chart circle.point").count() == 6
    assert XSS in await page.locator("main").inner_text()  # shown as text
    assert await page.locator("main script").count() == 0 and dialogs == []
    assert await page.get_by_role("heading", name="Timeline").is_visible()
    await page.screenshot(path=str(ARTIFACTS / "release.png"), full_page=True)


async def test_pages_read_on_a_phone(site, browser):
    page = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for path, shot in [("/releases/simmering/1.3.0", "release-phone.png"), ("/", "dashboard-phone.png")]:
        await page.goto(f"{site}{path}")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, path  # no sideways scrolling of the page itself
        await page.screenshot(path=str(ARTIFACTS / shot), full_page=True)


async def test_a_shipped_release_is_one_click_from_the_dashboard_and_the_archive(site, browser):
    page = await browser.new_page(viewport={"width": 1100, "height": 900})
    await page.goto(f"{site}/")
    project = page.locator("section", has=page.get_by_role("heading", name="Project released", exact=True))
    assert await project.get_by_role("link", name="released#2").is_visible()  # the new cycle
    await project.get_by_role("link", name="released 1.3.0").click()  # and the one just shipped
    await page.wait_for_url(f"{site}/releases/released/1.3.0.html")
    notes = page.locator(".notes")
    assert await notes.get_by_role("heading", name="Added").is_visible()  # Markdown, not ### text
    assert await notes.get_by_role("listitem").first.inner_text() == "Pausing block production."
    times = await page.locator("main time").all_inner_texts()
    assert times and all(t.endswith(" UTC") for t in times)
    await page.goto(f"{site}/")
    await page.get_by_role("link", name="Every release of Project retired").click()
    await page.wait_for_url(f"{site}/releases/retired/index.html")
    assert await page.get_by_role("link", name="retired 1.3.1").is_visible()
    await page.get_by_role("link", name="retired 1.3.0").click()
    await page.wait_for_url(f"{site}/releases/retired/1.3.0.html")
    assert await page.locator("h1 .state-retired").is_visible()
    simmer = await page.locator("section", has=page.get_by_role("heading", name="Simmer")).inner_text()
    assert "running" not in simmer
