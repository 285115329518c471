"""Tower's HTTP server: /healthz, /readyz, /metrics, /slack/events, /hooks/ci, calendars, the
dashboard, release pages and the feed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
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


CALLBACK_WINDOW_S = 300


async def ci_hook(request: web.Request) -> web.Response:
    """POST /hooks/ci: a CI reporting on a run. Signed with the project's secret (HMAC-SHA256 of
    "timestamp.body"), fresh (five minutes), and never applied twice (its delivery id)."""
    from commands.deploy.events import DUPLICATE, UnknownOperation, record_ci_event

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
    if not (_digits(stamp) and signature and delivery):
        return web.json_response({"error": "signature, timestamp and delivery id are required"}, status=401)
    if abs(time.time() - int(stamp)) > CALLBACK_WINDOW_S:
        return web.json_response({"error": "stale timestamp"}, status=401)
    expected = "sha256=" + hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return web.json_response({"error": "bad signature"}, status=401)
    problem = _malformed(body, delivery)
    if problem:
        return web.json_response({"error": problem}, status=400)
    try:
        outcome = await record_ci_event(tower.services, body, delivery=delivery)
    except UnknownOperation:
        return web.json_response({"error": "unknown operation id"}, status=404)
    if outcome == DUPLICATE:
        return web.json_response({"status": "duplicate"})  # a replay: nothing changes
    request.app[COURIER_WAKE]()
    return web.json_response({"status": "ok", "outcome": outcome})


def _digits(stamp: str) -> bool:
    return stamp.isascii() and stamp.isdigit() and len(stamp) <= 12


_EVENT = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")


def _malformed(body: dict, delivery: str) -> str | None:
    """What is wrong with a signed callback's shape, before anything is applied; None if nothing."""
    if len(delivery) > 200 or not delivery.isprintable():
        return "the delivery id must be printable and at most 200 characters"
    if "\x00" in json.dumps(body, ensure_ascii=False):
        return "the body contains a NUL character"
    if not isinstance(body.get("operation_id"), str) or not 0 < len(body["operation_id"]) <= 200:
        return "operation_id must be a string of at most 200 characters"
    if not isinstance(body.get("event"), str) or not _EVENT.match(body["event"]):
        return "event must be a lowercase word such as started, succeeded, failed or acceptance"
    for name in ("run_url", "log_url", "archive_url", "detail", "failure", "status"):
        if body.get(name) is not None and not isinstance(body[name], str):
            return f"{name} must be a string"
    results = body.get("results")
    if results is not None:
        if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
            return "results must be a list of objects"
        for result in results:
            if not isinstance(result.get("test"), str) or not 0 < len(result["test"]) <= 200:
                return "each result needs a test id (a string of at most 200 characters)"
            if not isinstance(result.get("outcome", ""), str) or not isinstance(result.get("url") or "", str):
                return "a result's outcome and url must be strings"
    return None


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
    app.router.add_get(r"/releases/{project}/{ref:[^/]+?}{kind:(\.html|\.json)?}", release_page)
    app.router.add_get("/calendar/{project}.ics", project_calendar)
    app.router.add_post("/hooks/ci", ci_hook)
    if slack is not None:
        app.router.add_post("/slack/events", slack.handle_http)
    return app
