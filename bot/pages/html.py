"""The dashboard, the archive and the release pages, rendered from Jinja2 templates
(`templates/`) with autoescaping: every value is escaped unless it is marked as markup, and only
three things are — release notes (rendered by markdown-it with raw HTML off), the health chart
(built from numbers, its labels escaped) and the templates' own tags. Links are only ever http(s)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from bot.pages import notes
from bot.pages.chart import health_chart
from commands.rules.simmer import sparkline
from commands.rules.text import clean_text


def _finalize(value: object) -> object:
    """What a template prints: without the control characters HTML cannot show (markup is ours)."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return clean_text(value)
    return "" if value is None else value


def local(iso: str, zone: str) -> str:
    """`2026-11-21T09:02:00+00:00` in Europe/Berlin → `2026-11-21 10:02 CET`: every time with its zone."""
    at = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    return f"{at:%Y-%m-%d %H:%M} {at.tzname() or zone}"


def release_href(project: str, release: dict, root: str = "") -> str:
    ref = release["version"] or f"r{release['number']}"
    return f"{root}releases/{project}/{ref}.html"


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """Built once: the templates and their filters never change while Tower runs."""
    env = Environment(
        loader=PackageLoader("bot.pages", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        local=local,
        spark=sparkline,
        web_url=lambda url: bool(url) and str(url).startswith(("https://", "http://")),
        notes=notes.render,
        chart=lambda samples, label: Markup(health_chart(samples, label)),  # numbers, and labels it escaped
    )
    env.globals["release_href"] = release_href
    return env


def _render(name: str, **values: object) -> str:
    return _templates().get_template(name).render(**values)


def dashboard(projects: list[dict]) -> str:
    return _render("dashboard.html", projects=projects, root="")


def archive_page(data: dict) -> str:
    return _render("archive.html", **data, root="../../")


def release_page(data: dict) -> str:
    return _render("release.html", data=data, root="../../")


def moved(target: str) -> str:
    """A page that sends the reader on to `target` (a relative address), for static hosts without redirects."""
    return _render("moved.html", target=target)
