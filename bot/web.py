"""Tower's HTTP server: /healthz and /slack/events; CI hooks and release pages join it later."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot.app import Tower
from jobs.scheduler import Wakeups

TOWER_KEY = web.AppKey("tower", Tower)
WAKEUPS_KEY = web.AppKey("wakeups", Wakeups)


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


def build_web_app(tower: Tower, wakeups: Wakeups, slack=None) -> web.Application:
    app = web.Application()
    app[TOWER_KEY] = tower
    app[WAKEUPS_KEY] = wakeups
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/calendar/{project}.ics", project_calendar)
    if slack is not None:
        app.router.add_post("/slack/events", slack.handle_http)
    return app
