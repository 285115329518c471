"""The release pages as a site: served by `tower run`, written by `tower pages build DIR`, and
republished into `[tower] pages_dir` whenever a release changes."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from pathlib import Path

from bot.inbound import digits
from bot.pages import html
from bot.pages.feed import atom
from commands.engine.services import Services
from commands.release.data import archive_data, dashboard_data, release_data
from commands.release.feed import recent
from storage.queries import directory, releases
from storage.tables import Release

log = logging.getLogger("tower.pages")
STYLE = Path(__file__).with_name("style.css")


async def dashboard_html(svc: Services) -> str:
    async with svc.db.read() as session:
        return html.dashboard(await dashboard_data(session, svc))


async def archive_html(svc: Services, project_key: str) -> str | None:
    project = svc.settings.project(project_key)
    if project is None:
        return None
    async with svc.db.read() as session:
        data = await archive_data(session, svc, project)
    return html.archive_page(data) if data else None


async def release_json(svc: Services, project_key: str, ref: str) -> dict | None:
    project = svc.settings.project(project_key)
    if project is None:
        return None
    async with svc.db.read() as session:
        row = await directory.project_by_key(session, project_key)
        if row is None:
            return None
        if ref.startswith("r") and digits(ref[1:], max_length=9):  # ASCII, and within a 32-bit column
            found = await releases.by_number(session, row.id, int(ref[1:]))
        elif len(ref) <= 100 and ref.isprintable():  # no version holds a control character (nor may PostgreSQL see NUL)
            found = await releases.by_version(session, row.id, ref)
        else:
            return None
        return await release_data(session, svc, project, found) if found else None


async def feed_xml(svc: Services, base: str | None = None) -> str:
    """The feed; its links under `base` (where readers reach Tower: `public_url`, else what the
    request came to), or relative to the feed's own place in a static copy."""
    base = (svc.settings.tower.public_url or base or "").rstrip("/")
    async with svc.db.read() as session:
        entries = await recent(session, svc.clock.now())
        installation = await directory.installation_uid(session)
    for entry in entries:
        ref = entry["version"] or f"r{entry['release']}"
        entry["link"] = _under(base, f"releases/{entry['project']}/{ref}.html")
    return atom(
        entries,
        installation=installation,
        self_url=_under(base, "feed.xml"),
        home_url=_under(base, "index.html"),
        updated=entries[0]["at"] if entries else svc.clock.now(),
    )


def _under(base: str, path: str) -> str:
    return f"{base}/{path}" if base else path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path


async def build(svc: Services, out: Path) -> list[Path]:
    """Write the whole site into `out`."""
    written: list[Path] = []
    for rel, project_key in await _listed(svc):
        data = await release_json(svc, project_key, f"r{rel.number}")
        if data is not None:
            written += _write_release(out, project_key, data)
    return written + await _write_archives(svc, out) + _write_front(out, await dashboard_html(svc), await feed_xml(svc))


async def _write_archives(svc: Services, out: Path) -> list[Path]:
    written = []
    for key in svc.settings.projects:
        page = await archive_html(svc, key)
        if page is not None:
            written.append(await asyncio.to_thread(_write, out / "releases" / key / "index.html", page))
    return written


async def _listed(svc: Services) -> list[tuple[Release, str]]:
    async with svc.db.read() as session:
        return [(rel, row.key) for rel, row in await releases.listing(session, states=None, limit=100_000)]


def _write_front(out: Path, dashboard: str, feed: str) -> list[Path]:
    return [
        _write(out / "style.css", STYLE.read_text()),
        _write(out / "index.html", dashboard),
        _write(out / "feed.xml", feed),
    ]


def _write_release(out: Path, project_key: str, data: dict) -> list[Path]:
    folder = out / "releases" / project_key
    number, version = data["release"]["number"], data["release"]["version"]
    ref = version or f"r{number}"
    written = [
        _write(folder / f"{ref}.html", html.release_page(data)),
        _write(folder / f"{ref}.json", json.dumps(data, indent=2)),
    ]
    if version:  # links handed out before the release had a version keep working; stale data goes
        written.append(_write(folder / f"r{number}.html", html.moved(f"{version}.html")))
        (folder / f"r{number}.json").unlink(missing_ok=True)
    return written


class Publisher:
    """Keeps `pages_dir` current. Each round renders the releases that can still change — open ones,
    and closed ones for `settle_days` (retirement and the all-clear come after shipping) — and
    rewrites those whose content differs from what it last wrote; the first round writes everything."""

    def __init__(self, svc: Services, out: Path, settle_days: int = 60):
        self.svc, self.out, self.settle = svc, out, timedelta(days=settle_days)
        self.written: dict[int, str] = {}  # release id → the JSON last written

    async def publish(self) -> int:
        now, first, changed = self.svc.clock.now(), not self.written, 0
        for rel, project_key in await _listed(self.svc):
            if not first and rel.closed_at is not None and now - rel.closed_at > self.settle:
                continue
            data = await release_json(self.svc, project_key, f"r{rel.number}")
            text = json.dumps(data, sort_keys=True)
            if data is None or self.written.get(rel.id) == text:
                continue
            await asyncio.to_thread(_write_release, self.out, project_key, data)  # files: off the event loop
            self.written[rel.id] = text
            changed += 1
        if changed:
            await _write_archives(self.svc, self.out)
            await asyncio.to_thread(_write_front, self.out, await dashboard_html(self.svc), await feed_xml(self.svc))
        return changed
