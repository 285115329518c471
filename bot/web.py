"""Tower's HTTP server: /healthz, /slack/events, /hooks/ci, calendars, the dashboard, release pages, the feed."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from aiohttp import web
from sqlalchemy import text

from bot.app import Tower
from jobs.scheduler import Wakeups

TOWER_KEY = web.AppKey("tower", Tower)
WAKEUPS_KEY = web.AppKey("wakeups", Wakeups)
COURIER_WAKE = web.AppKey("courier_wake", object)


async def healthz(request: web.Request) -> web.Response:
    tower = request.app[TOWER_KEY]
    wakeups = request.app[WAKEUPS_KEY]
    checks = {"database": "ok", "scheduler": "running" if wakeups.running else "stopped"}
    try:
        async with tower.services.db.read() as session:
            await session.exec(text("SELECT 1"))
    except Exception as err:  # any failure means unhealthy; the reason is logged, not exposed
        checks["database"] = f"unavailable ({type(err).__name__})"
    healthy = checks["database"] == "ok" and wakeups.running
    body = {"status": "ok" if healthy else "unhealthy", **checks}
    return web.json_response(body, status=200 if healthy else 503)


async def project_calendar(request: web.Request) -> web.Response:
    from commands.calendar import project_calendar as render

    tower = request.app[TOWER_KEY]
    project = tower.settings.project(request.match_info["project"])
    if project is None:
        return web.Response(status=404, text="No such project.\n")
    return web.Response(body=(await render(tower.services, project)).encode(), content_type="text/calendar",
                        charset="utf-8")


CALLBACK_WINDOW_S = 300


async def ci_hook(request: web.Request) -> web.Response:
    """POST /hooks/ci: a CI reporting on a run. Signed with the project's secret (HMAC-SHA256 of
    "timestamp.body"), fresh (five minutes), and never applied twice (its delivery id)."""
    from commands.deploy_events import UnknownOperation, record_ci_event
    from storage.queries import deploys

    tower = request.app[TOWER_KEY]
    raw = await request.read()
    try:
        body = json.loads(raw)
        assert isinstance(body, dict)
    except (ValueError, AssertionError):
        return web.json_response({"error": "the body is not a JSON object"}, status=400)
    project = tower.settings.project(str(body.get("project", "")))
    if project is None or project.ci is None:
        return web.json_response({"error": "unknown project"}, status=404)
    secret = tower.secrets.get(project.ci.secret_env or "")
    if not secret:
        return web.json_response({"error": "callbacks are not enabled for this project (ci.secret_env)"}, status=403)
    stamp, signature = request.headers.get("X-Tower-Timestamp", ""), request.headers.get("X-Tower-Signature", "")
    delivery = request.headers.get("X-Tower-Delivery", "")
    if not (stamp.isdigit() and signature and delivery):
        return web.json_response({"error": "signature, timestamp and delivery id are required"}, status=401)
    if abs(time.time() - int(stamp)) > CALLBACK_WINDOW_S:
        return web.json_response({"error": "stale timestamp"}, status=401)
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return web.json_response({"error": "bad signature"}, status=401)
    services = tower.services
    async with services.db.read() as session:
        seen = await deploys.seen_delivery(session, delivery)
    if seen:
        return web.json_response({"status": "duplicate"})  # a replay: nothing changes
    try:
        outcome = await record_ci_event(services, body)
    except UnknownOperation:
        return web.json_response({"error": "unknown operation id"}, status=404)
    async with services.db.write() as session:
        await deploys.first_delivery(session, delivery, services.clock.now())
    request.app[COURIER_WAKE]()
    return web.json_response({"status": "ok", "outcome": outcome})


async def dashboard(request: web.Request) -> web.Response:
    from bot.pages.site import dashboard_html

    return web.Response(text=await dashboard_html(request.app[TOWER_KEY].services), content_type="text/html")


async def stylesheet(request: web.Request) -> web.Response:
    from bot.pages.site import STYLE

    return web.Response(text=STYLE.read_text(), content_type="text/css", headers={"Cache-Control": "max-age=300"})


async def feed(request: web.Request) -> web.Response:
    from bot.pages.site import feed_xml

    return web.Response(text=await feed_xml(request.app[TOWER_KEY].services), content_type="application/atom+xml")


async def release_page(request: web.Request) -> web.Response:
    from bot.pages.html import release_page as render
    from bot.pages.site import release_json

    ref, kind = request.match_info["ref"], request.match_info.get("kind") or ".html"
    data = await release_json(request.app[TOWER_KEY].services, request.match_info["project"], ref)
    if data is None:
        return web.Response(status=404, text="No such release.\n")
    if kind == ".json":
        return web.json_response(data)
    return web.Response(text=render(data), content_type="text/html")


def build_web_app(tower: Tower, wakeups: Wakeups, slack=None, courier_wake=lambda: None) -> web.Application:
    app = web.Application()
    app[TOWER_KEY] = tower
    app[WAKEUPS_KEY] = wakeups
    app[COURIER_WAKE] = courier_wake
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", dashboard)
    app.router.add_get("/index.html", dashboard)
    app.router.add_get("/style.css", stylesheet)
    app.router.add_get("/feed.xml", feed)
    app.router.add_get(r"/releases/{project}/{ref:[^/]+?}{kind:(\.html|\.json)?}", release_page)
    app.router.add_get("/calendar/{project}.ics", project_calendar)
    app.router.add_post("/hooks/ci", ci_hook)
    if slack is not None:
        app.router.add_post("/slack/events", slack.handle_http)
    return app
