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


def build_web_app(tower: Tower, wakeups: Wakeups, slack=None) -> web.Application:
    app = web.Application()
    app[TOWER_KEY] = tower
    app[WAKEUPS_KEY] = wakeups
    app.router.add_get("/healthz", healthz)
    if slack is not None:
        app.router.add_post("/slack/events", slack.handle_http)
    return app
