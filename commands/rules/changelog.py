"""Keep a Changelog files: read the Unreleased section, name a release, render a section. Pure.

## [Unreleased]
### Added
- Something new.
## [1.2.0] - 2026-10-01
...
[Unreleased]: https://github.com/o/r/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_UNRELEASED = re.compile(r"^##\s+\[?unreleased\]?\s*$", re.IGNORECASE)
_VERSION = re.compile(
    r"^##\s+\[?v?(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\]?"
    r"(?:\s+[-–—]\s+(?P<date>\d{4}-\d{2}-\d{2}))?(?:\s+\[YANKED\])?\s*$",
    re.IGNORECASE,
)
_H2 = re.compile(r"^##\s")
_H3 = re.compile(r"^###\s+(?P<kind>.+?)\s*$")
_ITEM = re.compile(r"^[-*+]\s+(?P<text>.*)$")
_LINK = re.compile(r"^\[(?P<label>[^\]]+)\]:\s*(?P<url>\S+)\s*$")
_CONVENTIONAL_BANG = re.compile(r"^\w+(\([^)]*\))?!:")


class ChangelogError(ValueError):
    def __init__(self, path: str, line: int | None, message: str):
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {message}")
        self.line = line


@dataclass(frozen=True)
class Entry:
    kind: str  # the ### subsection, lower case ("added", "fixed", "breaking"); "" when none
    text: str
    line: int

    @property
    def breaking(self) -> bool:
        return self.kind.startswith("breaking") or "BREAKING" in self.text or bool(_CONVENTIONAL_BANG.match(self.text))


@dataclass
class Section:
    version: str | None  # None: Unreleased
    date: str | None
    line: int  # 1-based line of the heading
    end: int  # 1-based line after the section (next ## heading or the link block)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Changelog:
    path: str
    lines: list[str]
    unreleased: Section
    releases: list[Section]
    links: dict[str, int]  # link label (lower case) -> 1-based line

    def release(self, version: str) -> Section | None:
        return next((s for s in self.releases if s.version == version), None)


def parse(text: str, path: str = "CHANGELOG.md") -> Changelog:
    lines = text.splitlines()
    links = {m.group("label").lower(): i for i, line in enumerate(lines, 1) if (m := _LINK.match(line))}
    link_start = min(links.values(), default=len(lines) + 1)
    sections: list[Section] = []
    for number, line in enumerate(lines, 1):
        if number >= link_start or not _H2.match(line):
            continue
        if _UNRELEASED.match(line):
            sections.append(Section(None, None, number, 0))
            continue
        match = _VERSION.match(line)
        if match is None:
            raise ChangelogError(
                path,
                number,
                f"`{line.strip()}` is not a release heading; write `## [Unreleased]` or `## [1.2.3] - YYYY-MM-DD`.",
            )
        sections.append(Section(match.group("version"), match.group("date"), number, 0))
    for section, following in zip(sections, [*sections[1:], None], strict=False):
        section.end = following.line if following else link_start
        section.entries = _entries(lines, section)
    unreleased = [s for s in sections if s.version is None]
    if not unreleased:
        first = sections[0].line if sections else None
        raise ChangelogError(
            path, first, "there is no `## [Unreleased]` section" + (" above the first release." if first else ".")
        )
    if len(unreleased) > 1:
        raise ChangelogError(path, unreleased[1].line, "a second `## [Unreleased]` section.")
    return Changelog(path, lines, unreleased[0], [s for s in sections if s.version], links)


def _entries(lines: list[str], section: Section) -> list[Entry]:
    entries: list[Entry] = []
    kind = ""
    for number in range(section.line + 1, section.end):
        line = lines[number - 1]
        if match := _H3.match(line):
            kind = match.group("kind").strip().lower()
        elif match := _ITEM.match(line):
            entries.append(Entry(kind, match.group("text").strip(), number))
        elif line.startswith((" ", "\t")) and line.strip() and entries:
            last = entries[-1]
            entries[-1] = Entry(last.kind, f"{last.text} {line.strip()}", last.line)
    return entries


def name_release(
    changelog: Changelog, version: str, date: str, *, tag_prefix: str = "v", new_entries: str | None = None
) -> str:
    """The changelog with Unreleased renamed `## [version] - date` under a fresh empty Unreleased,
    compare links updated if the file has them. `new_entries` (rendered from news fragments) are
    used as the section's body instead of what Unreleased holds."""
    lines = list(changelog.lines)
    u = changelog.unreleased
    body = lines[u.line : u.end - 1]
    if new_entries is not None:
        body = ["", *new_entries.rstrip("\n").splitlines(), ""]
    head = [*lines[: u.line - 1], lines[u.line - 1], "", f"## [{version}] - {date}"]
    rest = lines[u.end - 1 :]
    out = head + _tidy(body) + rest
    out = _update_links(out, changelog, version, tag_prefix)
    return "\n".join(out).rstrip("\n") + "\n"


def _tidy(body: list[str]) -> list[str]:
    """One blank line after the heading and at the end of the section."""
    while body and not body[0].strip():
        body = body[1:]
    while body and not body[-1].strip():
        body = body[:-1]
    return ["", *body, ""] if body else [""]


def _update_links(out: list[str], changelog: Changelog, version: str, prefix: str) -> list[str]:
    index = next(
        (i for i, line in enumerate(out) if (m := _LINK.match(line)) and m.group("label").lower() == "unreleased"), None
    )
    if index is None:
        return out
    match = _LINK.match(out[index])
    assert match is not None  # the line was found by this same pattern
    label, url = match.group("label"), match.group("url")
    base, found, span = url.partition("/compare/")
    previous, dots, to = span.partition("...")
    if not found or not dots:
        return out  # not a compare link: leave it to the humans
    out[index] = f"[{label}]: {base}/compare/{prefix}{version}...{to}"
    out.insert(index + 1, f"[{version}]: {base}/compare/{previous}...{prefix}{version}")
    return out


def section_text(changelog: Changelog, version: str | None) -> str | None:
    """The body of a release's section (or of Unreleased, for None), as written."""
    section = changelog.unreleased if version is None else changelog.release(version)
    if section is None:
        return None
    return "\n".join(changelog.lines[section.line : section.end - 1]).strip("\n")


def merge_release(main_text: str, release_text: str, path: str = "CHANGELOG.md", base_text: str | None = None) -> str:
    """Main's changelog after a release shipped from the release branch: the released sections main
    does not have yet go under its Unreleased section, and Unreleased keeps only the entries that
    were not released (those added on main meanwhile). An entry counts as released when a released
    section holds it, or when it was under Unreleased in `base_text` (the changelog the release was
    named from), however it was polished since. Compare links new on the release side are taken,
    its `[Unreleased]` link replaces main's. Returns main's text unchanged when it already has
    every released section."""
    main = parse(main_text, path)
    release = parse(release_text, path)
    known = {s.version for s in main.releases}
    new = [s for s in release.releases if s.version not in known]
    if not new:
        return main_text
    released = {_normal(e.text) for s in new for e in s.entries}
    if base_text is not None:
        released |= {_normal(e.text) for e in parse(base_text, path).unreleased.entries}
    link_start = min(main.links.values(), default=len(main.lines) + 1)
    u = main.unreleased
    kept = _without_entries(main.lines[u.line : u.end - 1], released)
    added = [line for s in new for line in _tidy(release.lines[s.line - 1 : s.end - 1])[1:]]
    out = [*main.lines[: u.line], *_tidy(kept), *added, *main.lines[u.end - 1 : link_start - 1]]
    out += _merged_links(main, release, link_start)
    return "\n".join(out).rstrip("\n") + "\n"


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


def _without_entries(body: list[str], released: set[str]) -> list[str]:
    """The Unreleased body without the items (with their continuation lines) that were released,
    and without a `###` heading left with no items under it."""
    blocks: list[list[str]] = []  # each: a heading, an item with its continuation lines, or a blank
    for line in body:
        if line.startswith((" ", "\t")) and line.strip() and blocks and _ITEM.match(blocks[-1][0]):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    items = [b for b in blocks if not _ITEM.match(b[0]) or _normal(" ".join(_item_text(b))) not in released]
    out: list[str] = []
    for index, block in enumerate(items):
        if _H3.match(block[0]):
            rest = items[index + 1 :]
            following = next((b for b in rest if _ITEM.match(b[0]) or _H3.match(b[0]) or _H2.match(b[0])), None)
            if following is None or not _ITEM.match(following[0]):
                continue
        out.extend(block)
    collapsed: list[str] = []
    for line in out:
        if line.strip() or (collapsed and collapsed[-1].strip()):
            collapsed.append(line)
    return collapsed


def _item_text(block: list[str]) -> list[str]:
    match = _ITEM.match(block[0])
    assert match is not None  # only called on item blocks
    return [match.group("text"), *(line.strip() for line in block[1:])]


def _merged_links(main: Changelog, release: Changelog, link_start: int) -> list[str]:
    links = main.lines[link_start - 1 :]
    index = {label: line - link_start for label, line in main.links.items()}
    newer = [release.lines[line - 1] for label, line in release.links.items() if label not in index]
    if "unreleased" in index and "unreleased" in release.links:
        links[index["unreleased"]] = release.lines[release.links["unreleased"] - 1]
        at = index["unreleased"] + 1
        return [*links[:at], *newer, *links[at:]]
    return [*links, *([""] if newer and not links else []), *newer]
