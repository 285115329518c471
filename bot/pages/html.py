"""The dashboard and the release pages, as plain accessible HTML. Every piece of user text goes
through `escape`; links are only ever http(s)."""

from __future__ import annotations

from html import escape

from bot.pages.chart import health_chart
from commands.rules.simmer import sparkline
from commands.rules.text import clean_text


def _e(value: object) -> str:
    return escape(clean_text("" if value is None else str(value)))


def _link(url: str | None, text: str) -> str:
    if url and url.startswith(("https://", "http://")):
        return f'<a href="{escape(url)}">{_e(text)}</a>'
    return _e(text)


def _state(state: str) -> str:
    return f'<span class="state state-{_e(state)}">{_e(state)}</span>'


def layout(title: str, body: str, root: str = "") -> str:
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{_e(title)}</title><link rel="stylesheet" href="{root}style.css">'
        f'<link rel="alternate" type="application/atom+xml" title="Announcements" href="{root}feed.xml"></head>'
        f'<body><header><a href="{root}index.html">Tower</a> · release dashboard</header><main>{body}</main>'
        f'<footer><a href="{root}feed.xml">Announcements feed</a></footer></body></html>\n'
    )


def moved(target: str) -> str:
    """A page that sends the reader on to `target` (a relative address), for static hosts without redirects."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0; url={_e(target)}">'
        f'<title>Moved</title></head><body><p>This release now lives at <a href="{_e(target)}">{_e(target)}</a>.</p>'
        "</body></html>\n"
    )


def release_href(project: str, release: dict, root: str = "") -> str:
    ref = release["version"] or f"r{release['number']}"
    return f"{root}releases/{escape(project)}/{escape(ref)}.html"


def dashboard(projects: list[dict]) -> str:
    blocks = []
    for project in projects:
        rows = []
        for rel in project["releases"]:
            crew = f"{_e(rel['pilot'] or '—')} / {_e(rel['copilot'] or '—')}"
            simmer = rel["simmer"]
            health = ""
            if simmer:
                health = f"day {simmer['day']} of {simmer['days']}"
                health += f' <span class="spark" aria-hidden="true">{_e(sparkline(simmer["values"]))}</span>'
                health += f' <span class="bad">{_e(simmer["trouble"])}</span>' if simmer["trouble"] else ""
            pages = ", ".join(f"#{p['id']} {_e(p['message'][:60])}" for p in rel["pages"])
            rows.append(
                f'<tr><td><a href="{release_href(project["key"], rel)}">{_e(rel["title"])}</a></td>'
                f"<td>{_state(rel['state'])}</td><td>{crew}</td><td>{_e(rel['countdown'] or '')}</td>"
                f'<td>{health}</td><td class="bad">{pages}</td></tr>'
            )
        table = (
            (
                '<table><thead><tr><th scope="col">Release</th><th scope="col">State</th>'
                '<th scope="col">Pilot / co-pilot</th>'
                '<th scope="col">Next</th><th scope="col">Simmer</th><th scope="col">Open pages</th></tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>"
            )
            if rows
            else "<p>No releases yet.</p>"
        )
        blocks.append(
            f'<section aria-labelledby="p-{_e(project["key"])}"><h2 id="p-{_e(project["key"])}">'
            f"{_e(project['name'])}</h2>{table}</section>"
        )
    return layout("Tower — releases", "<h1>Releases</h1>" + "".join(blocks))


def release_page(data: dict) -> str:
    rel, project = data["release"], data["project"]
    crew = data["crew"]
    parts = [
        f"<h1>{_e(project['name'])} {_e(rel['version'] or '#' + str(rel['number']))} {_state(rel['state'])}</h1>",
        '<dl class="card">'
        f"<dt>Pilot</dt><dd>{_e(crew['pilot'] or 'not assigned')}</dd>"
        f"<dt>Co-pilot</dt><dd>{_e(crew['copilot'] or 'not assigned')}</dd>"
        + (f"<dt>Jump seats</dt><dd>{_e(', '.join(crew['jumpseats']))}</dd>" if crew["jumpseats"] else "")
        + (f"<dt>Next</dt><dd>{_e(data['countdown'])}</dd>" if data["countdown"] else "")
        + (
            f"<dt>Release issue</dt><dd>{_link(rel['issue_url'], rel['issue_url'] or '')}</dd>"
            if rel["issue_url"]
            else ""
        )
        + "</dl>",
    ]
    parts.append(
        _section(
            "Candidates",
            _table(
                ["#", "Tag", "Kind", "State", "Commit"],
                [
                    [c["seq"], _link(c["url"], c["tag"]), c["kind"], c["state"], (c["commit"] or "")[:10]]
                    for c in data["candidates"]
                ],
                raw=(1,),
            ),
        )
    )
    parts.append(_section("Release notes", f"<pre>{_e(data['notes'])}</pre>" if data["notes"] else "<p>None yet.</p>"))
    parts.append(_section("Scope", _scope(data["scope"])))
    parts.append(
        _section(
            "Checklist",
            "<ul>"
            + "".join(
                f"<li>{'☑' if i['done'] else '☐'} {i['seq']}. "
                + (f"<s>{_e(i['text'])}</s>" if i["void"] else _e(i["text"]))
                + f"{' (Tower)' if i['automatic'] else ''}{_before(i['before'])}"
                + (f" — {_e(i['void'])}" if i["void"] else "")
                + "</li>"
                for i in data["checklist"]
            )
            + "</ul>",
        )
    )
    parts.append(
        _section(
            "Deployments",
            _table(
                ["#", "Candidate", "Environment", "State", "Links"],
                [
                    [
                        d["id"],
                        d["candidate"],
                        d["environment"],
                        d["state"],
                        " ".join(
                            filter(
                                None,
                                [
                                    _link(d["run_url"], "run") if d["run_url"] else "",
                                    _link(d["log_url"], "logs") if d["log_url"] else "",
                                    _archive(d["archive"]),
                                    _e(d["failure"] or ""),
                                ],
                            )
                        ),
                    ]
                    for d in data["deployments"]
                ],
                raw=(4,),
            ),
        )
    )
    parts.append(_section("Simmer", _simmer(data["simmer"])))
    parts.append(
        _section(
            "Pages and incidents",
            _table(["#", "State", "Message"], [[p["id"], p["state"], p["message"]] for p in data["pages"]]),
        )
    )
    parts.append(
        _section(
            "Timeline",
            _table(
                ["When", "Step", "By", "Why"],
                [
                    [
                        t["at"][:16].replace("T", " "),
                        f"{t['from'] or '—'} → {t['to']} ({t['action']})",
                        t["by"],
                        t["reason"] or "",
                    ]
                    for t in data["timeline"]
                ],
            ),
        )
    )
    return layout(f"{project['name']} {rel['version'] or rel['number']}", "".join(parts), root="../../")


def _archive(location: str | None) -> str:
    """Where a retired deployment's logs went: a link when it is one, else the location as text."""
    if not location:
        return ""
    if location.startswith(("https://", "http://")):
        return _link(location, "archive")
    return f"archive: {_e(location)}"


def _before(step: str | None) -> str:
    return f" — before {_e(step)}" if step else ""


def _section(title: str, body: str) -> str:
    ident = title.lower().replace(" ", "-")
    return f'<section aria-labelledby="{ident}"><h2 id="{ident}">{_e(title)}</h2>{body}</section>'


def _table(headers: list[str], rows: list[list], raw: tuple[int, ...] = ()) -> str:
    """Cells are escaped, except the columns in `raw`, which the caller built from escaped parts."""
    if not rows:
        return "<p>None.</p>"
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if i in raw else _e(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _scope(scope: dict) -> str:
    latest = _e(scope["latest_candidate"] or "no candidate yet")
    note = f"<p>Scope {'frozen' if scope['frozen'] else 'open'}; results for {latest}.</p>"
    rows = []
    for f in scope["features"]:
        results = "; ".join(
            f"{_e(tag)}: " + ", ".join(f"{_e(t)} {_e(o or '—')}" for t, o in tests.items())
            for tag, tests in f["results"].items()
            if tests
        )
        status = "removed" if f["state"] == "removed" else f["status"]
        extra = f" (after the freeze: {_e(f['after_freeze'])})" if f["after_freeze"] else ""
        rows.append(
            f"<tr><td>{f['id']}</td><td>{_e(f['title'])}{extra}</td><td>{_e(', '.join(f['tests']))}</td>"
            f"<td>{_e(status)}</td><td>{results}</td></tr>"
        )
    if not rows:
        return note + "<p>No features.</p>"
    return note + (
        '<table><thead><tr><th scope="col">#</th><th scope="col">Feature</th><th scope="col">Tests</th>'
        '<th scope="col">Status</th><th scope="col">Results per candidate</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _simmer(simmer: dict | None) -> str:
    if simmer is None:
        return "<p>Not simmering.</p>"
    ends = _e(simmer["ends_at"][:16].replace("T", " "))
    head = f"<p>{_e(simmer['state'])}, day {simmer['day']} of {simmer['days']}; ends {ends} UTC."
    head += f' <span class="bad">{_e(simmer["trouble"])}</span>' if simmer["trouble"] else ""
    return head + "</p>" + health_chart(simmer["samples"], simmer["metric"] or "health")
