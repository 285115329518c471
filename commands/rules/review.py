"""Reviewing a release's changes against its changelog section: the merged pull requests and the
commits since the last release that the section does not mention. Pure.

A pull request is found in a merge commit ("Merge pull request #150 from owner/branch", its title
on the following lines, as GitHub writes it; "Merge branch '…' into 'main'" with "See merge request
group/project!150", as GitLab does) or in a squash commit ("Fix the peer list (#151)"). It counts as
mentioned when the section names its number (#151) or its title; a commit, when the section holds
its subject (without a Conventional Commits prefix).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GITHUB_MERGE = re.compile(r"^Merge pull request #(?P<number>\d+)\b")
_GITLAB_MERGE = re.compile(r"^See merge request \S+!(?P<number>\d+)\s*$", re.MULTILINE)
_SQUASH = re.compile(r"^(?P<title>.+?)\s+\(#(?P<number>\d+)\)\s*$")
_PREFIX = re.compile(r"^\w+(\([^)]*\))?!?:\s*")
# Commits that are bookkeeping, never news: Tower's own, and merges of branches without a request.
_SKIP = re.compile(r"^(Releasing v?\d|Merge the \S+ changelog into |Merge (remote-tracking )?branch |Merge tag )")


@dataclass(frozen=True)
class Unmentioned:
    number: int | None  # the pull (merge) request, None for a plain commit
    title: str

    def line(self) -> str:
        return f"- #{self.number} {self.title}" if self.number is not None else f"- {self.title}"


def unmentioned(messages: list[str], section: str) -> list[Unmentioned]:
    """What `messages` (newest first, as `git log` gives them) bring that `section` does not
    mention, oldest first; each pull request once."""
    text = _normal(section)
    found: list[Unmentioned] = []
    seen: set[int] = set()
    for message in reversed(messages):
        change = _change(message)
        if change is None or (change.number is not None and change.number in seen):
            continue
        if change.number is not None:
            seen.add(change.number)
            if re.search(rf"#{change.number}\b|!{change.number}\b", section):
                continue
        if change.title and _normal(_PREFIX.sub("", change.title)) in text:
            continue
        found.append(change)
    return found


def _change(message: str) -> Unmentioned | None:
    subject, _, body = message.strip().partition("\n")
    body = body.strip()
    if match := _GITHUB_MERGE.match(subject):
        return Unmentioned(int(match.group("number")), body.splitlines()[0].strip() if body else subject)
    if match := _GITLAB_MERGE.search(body):
        title = next((line.strip() for line in body.splitlines() if line.strip()), subject)
        return Unmentioned(int(match.group("number")), title if not title.startswith("See merge") else subject)
    if _SKIP.match(subject) or not subject:
        return None
    if match := _SQUASH.match(subject):
        return Unmentioned(int(match.group("number")), match.group("title"))
    return Unmentioned(None, subject)


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[`*_.,;:!]", " ", text).lower().split())
