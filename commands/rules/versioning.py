"""Proposing the next version: breaking → major, feature → minor, fixes only → patch. Pure.

Changes come from the changelog's Unreleased section, from news fragments (towncrier's
`<id>.<type>.md`), or — when neither has any — from Conventional Commit messages since the last
release tag. Before 1.0.0 a breaking change bumps the minor (configurable).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import semver

from commands.rules.changelog import Entry

BREAKING, FEATURE, FIX, OTHER = "breaking", "feature", "fix", "other"
_RANK = {BREAKING: 3, FEATURE: 2, FIX: 1, OTHER: 0}

# Keep a Changelog subsections; anything else counts as a fix-level change.
_SECTION_LEVEL = {
    "added": FEATURE,
    "changed": FEATURE,
    "deprecated": FEATURE,
    "removed": FEATURE,
    "fixed": FIX,
    "security": FIX,
}
# towncrier fragment types (its defaults and common additions) and the subsection each renders as.
FRAGMENT_TYPES = {
    "breaking": (BREAKING, "Breaking"),
    "feature": (FEATURE, "Added"),
    "added": (FEATURE, "Added"),
    "removal": (FEATURE, "Removed"),
    "deprecation": (FEATURE, "Deprecated"),
    "changed": (FEATURE, "Changed"),
    "bugfix": (FIX, "Fixed"),
    "fix": (FIX, "Fixed"),
    "fixed": (FIX, "Fixed"),
    "security": (FIX, "Security"),
    "doc": (OTHER, "Documentation"),
    "misc": (OTHER, "Other"),
}
_FRAGMENT = re.compile(r"^(?P<id>[^.]+(?:\.\d+)?)\.(?P<type>[a-z]+)(?:\.\d+)?(?:\.(?:md|rst|txt))?$")
_COMMIT = re.compile(r"^(?P<type>[a-zA-Z]+)(?:\([^)]*\))?(?P<bang>!)?:\s*(?P<subject>.+)$")


@dataclass(frozen=True)
class Change:
    level: str  # breaking, feature, fix, other
    text: str
    origin: str  # where it was read: "CHANGELOG.md:14", "changelog.d/12.feature.md", "commit abc1234"


@dataclass(frozen=True)
class Proposal:
    version: semver.Version
    bump: str  # major, minor, patch
    last: semver.Version | None
    drivers: list[Change]  # the changes that decided the bump
    source: str  # changelog, fragments, commits

    def reasons(self, limit: int = 5) -> list[str]:
        shown = [f"- {c.level}: {c.text} ({c.origin})" for c in self.drivers[:limit]]
        if len(self.drivers) > limit:
            shown.append(f"… and {len(self.drivers) - limit} more")
        return shown


class NothingToRelease(ValueError):
    pass


def from_entries(entries: list[Entry], path: str) -> list[Change]:
    changes = []
    for entry in entries:
        level = BREAKING if entry.breaking else _SECTION_LEVEL.get(entry.kind, FIX)
        changes.append(Change(level, entry.text, f"{path}:{entry.line}"))
    return changes


def fragment_type(name: str) -> str | None:
    """The towncrier type of a fragment file name, if it is one Tower knows."""
    match = _FRAGMENT.match(name)
    return match.group("type") if match and match.group("type") in FRAGMENT_TYPES else None


def from_fragments(fragments: dict[str, str], directory: str) -> list[Change]:
    """`fragments` maps file names to their text."""
    changes = []
    for name, text in sorted(fragments.items()):
        kind = fragment_type(name)
        if kind is None:
            continue
        level = FRAGMENT_TYPES[kind][0]
        if "BREAKING" in text:
            level = BREAKING
        changes.append(Change(level, " ".join(text.split()), f"{directory}/{name}"))
    return changes


def render_fragments(fragments: dict[str, str]) -> str:
    """Fragments as Keep a Changelog subsections, in the usual order."""
    groups: dict[str, list[str]] = {}
    for name, text in sorted(fragments.items()):
        kind = fragment_type(name)
        if kind is not None:
            groups.setdefault(FRAGMENT_TYPES[kind][1], []).append(" ".join(text.split()))
    order = ["Breaking", "Added", "Changed", "Deprecated", "Removed", "Fixed", "Security", "Documentation", "Other"]
    blocks = [
        f"### {title}\n\n" + "\n".join(f"- {item}" for item in groups[title]) for title in order if title in groups
    ]
    return "\n\n".join(blocks) + "\n"


def from_commits(messages: list[str]) -> list[Change]:
    changes = []
    for message in messages:
        first, _, body = message.partition("\n")
        match = _COMMIT.match(first.strip())
        if match is None:
            changes.append(Change(OTHER, first.strip(), "commit"))
            continue
        kind = match.group("type").lower()
        level = {"feat": FEATURE, "fix": FIX, "perf": FIX, "revert": FIX}.get(kind, OTHER)
        if match.group("bang") or re.search(r"^BREAKING[ -]CHANGE:", body, re.MULTILINE):
            level = BREAKING
        changes.append(Change(level, first.strip(), "commit"))
    return changes


def propose(
    last: semver.Version | None, changes: list[Change], source: str, breaking_before_1_0: str = "minor"
) -> Proposal:
    top = max((_RANK[c.level] for c in changes), default=0)
    if top == 0:
        since = f" since {last}" if last else ""
        raise NothingToRelease(f"Nothing to release{since}: no features, fixes or breaking changes.")
    level = next(name for name, rank in _RANK.items() if rank == top)
    base = last or semver.Version(0, 0, 0)
    bump = {BREAKING: "major", FEATURE: "minor", FIX: "patch"}[level]
    if bump == "major" and base.major == 0 and breaking_before_1_0 == "minor":
        bump = "minor"
    version = {"major": base.bump_major, "minor": base.bump_minor, "patch": base.bump_patch}[bump]()
    return Proposal(version, bump, last, [c for c in changes if c.level == level], source)


def last_release(tag_names: list[str], prefix: str) -> semver.Version | None:
    """The highest final version among tags like v1.2.0 (candidates and builds do not count)."""
    versions = []
    for name in tag_names:
        if not name.startswith(prefix):
            continue
        try:
            version = semver.Version.parse(name[len(prefix) :])
        except ValueError:
            continue
        if version.prerelease is None and version.build is None:
            versions.append(version)
    return max(versions, default=None)
