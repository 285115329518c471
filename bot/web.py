"""Tower's HTTP server: /healthz, /readyz, /metrics, /slack/events, /hooks/ci, calendars, the
dashboard, release pages and the feed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy import text

from bot.app import Tower
from bot.telemetry import Telemetry
from jobs.scheduler import Wakeups


@dataclass
class Replica:
    """What this process is doing, as the probes and /metrics report it."""

    telemetry: Telemetry | None = None
    is_leader: Callable[[], bool] = lambda: True  # a lone Tower (tests) runs its own scheduler
    in_flight: Callable[[], int] = lambda: 0
    ready: bool = True  # started: adapters connected, first scheduler election held
    draining: bool = False  # shutting down: in-flight commands finish, new traffic should go elsewhere


TOWER_KEY = web.AppKey("tower", Tower)
WAKEUPS_KEY = web.AppKey("wakeups", Wakeups)
COURIER_WAKE = web.AppKey[Callable[[], None]]("courier_wake")
REPLICA_KEY = web.AppKey("replica", Replica)


async def _database_ok(tower: Tower) -> str:
    try:
        async with asyncio.timeout(5):
            async with tower.services.db.read() as session:
                connection = await session.connection()
                await connection.execute(text("SELECT 1"))
        return "ok"
    except Exception as err:  # any failure means unavailable; the reason's type only, never a URL
        return f"unavailable ({type(err).__name__})"


async def healthz(request: web.Request) -> web.Response:
    """Is this process healthy: its database reachable, its scheduler in the role it was elected to."""
    tower, wakeups, replica = request.app[TOWER_KEY], request.app[WAKEUPS_KEY], request.app[REPLICA_KEY]
    leader = replica.is_leader()
    scheduler = ("running" if wakeups.running else "stopped") if leader else "standby"
    checks = {"database": await _database_ok(tower), "scheduler": scheduler}
    healthy = checks["database"] == "ok" and scheduler != "stopped"
    body = {"status": "ok" if healthy else "unhealthy", **checks}
    return web.json_response(body, status=200 if healthy else 503)


async def readyz(request: web.Request) -> web.Response:
    """Should a load balancer send this replica traffic: started, not shutting down, database up."""
    tower, replica = request.app[TOWER_KEY], request.app[REPLICA_KEY]
    if replica.draining:
        return web.json_response({"status": "draining"}, status=503)
    if not replica.ready:
        return web.json_response({"status": "starting"}, status=503)
    database = await _database_ok(tower)
    if database != "ok":
        return web.json_response({"status": "unready", "database": database}, status=503)
    return web.json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    from bot.telemetry import CONTENT_TYPE

    replica, wakeups = request.app[REPLICA_KEY], request.app[WAKEUPS_KEY]
    if replica.telemetry is None:
        return web.Response(status=404, text="Metrics are off.\n")
    age = None
    if wakeups.last_tick is not None:
        age = max(0.0, (request.app[TOWER_KEY].services.clock.now() - wakeups.last_tick).total_seconds())
    body = await replica.telemetry.render(
        is_leader=replica.is_leader(), last_tick_age=age, in_flight=replica.in_flight()
    )
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def project_calendar(request: web.Request) -> web.Response:
    from commands.crew.calendar import project_calendar as render

    tower = request.app[TOWER_KEY]
    project = tower.settings.project(request.match_info["project"])
    if project is None:
        return web.Response(status=404, text="No such project.\n")
    return web.Response(
        body=(await render(tower.services, project)).encode(), content_type="text/calendar", charset="utf-8"
    )


async def ci_hook(request: web.Request) -> web.Response:
    from bot.ci_callbacks import ci_hook as take

    return await take(request, request.app[TOWER_KEY], request.app[COURIER_WAKE])


async def dashboard(request: web.Request) -> web.Response:
    from bot.pages.site import dashboard_html

    return web.Response(text=await dashboard_html(request.app[TOWER_KEY].services), content_type="text/html")


async def stylesheet(request: web.Request) -> web.Response:
    from bot.pages.site import STYLE

    return web.Response(text=STYLE.read_text(), content_type="text/css", headers={"Cache-Control": "max-age=300"})


async def feed(request: web.Request) -> web.Response:
    from bot.pages.site import feed_xml

    here = f"{request.scheme}://{request.host}"
    text = await feed_xml(request.app[TOWER_KEY].services, here)
    return web.Response(text=text, content_type="application/atom+xml")


async def release_page(request: web.Request) -> web.Response:
    from bot.pages.html import release_page as render
    from bot.pages.site import release_json

    ref, kind = request.match_info["ref"], request.match_info.get("kind") or ".html"
    if ref == "index" and kind == ".html":  # the project's archive, as a static copy names it
        return await archive(request)
    data = await release_json(request.app[TOWER_KEY].services, request.match_info["project"], ref)
    if data is None:
        return web.Response(status=404, text="No such release.\n")
    if kind == ".json":
        return web.json_response(data)
    return web.Response(text=render(data), content_type="text/html")


async def archive(request: web.Request) -> web.Response:
    from bot.pages.site import archive_html

    page = await archive_html(request.app[TOWER_KEY].services, request.match_info["project"])
    if page is None:
        return web.Response(status=404, text="No such project.\n")
    return web.Response(text=page, content_type="text/html")


def build_web_app(
    tower: Tower, wakeups: Wakeups, slack=None, courier_wake=lambda: None, replica: Replica | None = None
) -> web.Application:
    app = web.Application()
    app[TOWER_KEY] = tower
    app[WAKEUPS_KEY] = wakeups
    app[COURIER_WAKE] = courier_wake
    app[REPLICA_KEY] = replica or Replica()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/", dashboard)
    app.router.add_get("/index.html", dashboard)
    app.router.add_get("/style.css", stylesheet)
    app.router.add_get("/feed.xml", feed)
    app.router.add_get("/releases/{project}/", archive)
    app.router.add_get(r"/releases/{project}/{ref:[^/]+?}{kind:(\.html|\.json)?}", release_page)
    app.router.add_get("/calendar/{project}.ics", project_calendar)
    app.router.add_post("/hooks/ci", ci_hook)
    if slack is not None:
        app.router.add_post("/slack/events", slack.handle_http)
    return app
