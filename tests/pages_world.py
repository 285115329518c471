"""A Tower with one project per release state, for the pages and the dashboard."""

from __future__ import annotations

from contextlib import asynccontextmanager

from aiohttp.test_utils import TestClient, TestServer

from bot.app import open_tower
from bot.web import build_web_app
from commands.engine.settings import Settings
from jobs.scheduler import Wakeups, due_work
from storage.queries import deploys
from tests.fakes.ci_webhook import FakeCIWebhook
from tests.git_repos import build_repository
from tests.release_repos import released_then
from tests.support import make_settings, run

STATES = [
    "planning",
    "named",
    "frozen",
    "candidate",
    "deploying",
    "simmering",
    "released",
    "retired",
    "aborted",
    "failed",
]
XSS = "<script>alert('pwned')</script> & friends"


PUBLIC_URL = "https://tower.example.org"


def world_settings(tmp_path, webhook_url: str) -> Settings:
    data = make_settings(tmp_path / "data").model_dump()
    demo = data["projects"].pop("demo")
    data["tower"]["public_url"] = PUBLIC_URL
    for state in STATES:
        repo = tmp_path / f"{state}.git"
        build_repository(repo, released_then())
        ci = {"provider": "local", "command": "false" if state == "failed" else "true", "retire_command": "true"}
        if state == "deploying":
            ci = {"provider": "webhook", "url": webhook_url, "secret_env": "WORLD_SECRET"}  # accepts, never calls back
        data["projects"][state] = {
            **demo,
            "key": state,
            "name": f"Project {state}",
            "repository": str(repo),
            "release_branch": "main",
            "checklist": [],
            "ci": ci,
            "retire_after_days": 0,
            "simmer_days": 0 if state in ("released", "retired") else 7,
        }
        if state == "simmering":
            data["projects"][state]["tag_url"] = "https://git.example.org/simmering/tags/{tag}"
            data["projects"][state]["timezone"] = "Europe/Berlin"  # its pages show local times, labelled
    return Settings.model_validate(data)


@asynccontextmanager
async def served_world(tmp_path, db_target, clock, samples: int = 5):
    """The world's Tower, with an HTTP client on its web app as `tower.client`."""
    async with FakeCIWebhook(secret="world") as receiver:
        tower = await open_tower(
            world_settings(tmp_path, receiver.url), {**db_target.env(), "WORLD_SECRET": "world"}, clock=clock
        )
        await build_world(tower, samples=samples)
        async with TestClient(TestServer(build_web_app(tower, Wakeups(tower.services)))) as client:
            tower.client = client
            yield tower
        await tower.close()


async def build_world(tower, samples: int) -> None:
    async def go(*texts: str) -> None:
        for text in texts:
            reply = await run(tower, text)
            assert reply.ok, f"{text}: {reply.text}"
        await tower.services.cis.settle()
        await due_work(tower.services)
        await tower.services.cis.settle()

    for state in STATES:
        p = state
        await go(f"/release new {p}")
        if state == "aborted":
            await go(f"/release abort {p} --reason 'wrong branch'")
        if state in ("planning", "aborted"):
            continue
        await go(f"/rotation assign {p}", f"/release name {p} --yes")
        if state == "named":
            continue
        await go(f'/scope add {p} "{XSS}" --tests T1', f"/scope freeze {p}")
        if state == "frozen":
            continue
        await go(f"/rc cut {p}")
        if state == "candidate":
            continue
        await go(f"/deploy start {p}")
        if state in ("released", "retired"):
            await go(f"/scope result {p} T1 pass", f"/release ship {p}")
        if state == "retired":
            await go(
                f"/release new {p}",
                f"/rotation assign {p}",
                f"/release name {p} --version 1.3.1 --yes --no-notes",
                f"/scope freeze {p}",
                f"/rc cut {p}",
                f"/deploy start {p}",
            )
            await go(f"/release ship {p}")
    async with tower.services.db.write() as session:
        (simmer,) = await deploys.simmers(session, ("running",))
        start = tower.services.clock.now()
        for i in range(samples):
            await deploys.add_sample(session, simmer.id, start, 1000.0 + 7 * i, True, "ok")
