"""What `tower check-config --online` found: one line each, saying what holds or what to change."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from commands.engine.ports import ForgeError

LABELS = {"ok": "ok  ", "note": "note", "fail": "FAIL"}


@dataclass(frozen=True)
class Finding:
    level: str  # ok, note (Tower works, with a caveat) or fail (something Tower does will be refused)
    text: str


def ok(text: str) -> Finding:
    return Finding("ok", text)


def note(text: str) -> Finding:
    return Finding("note", text)


def fail(text: str) -> Finding:
    return Finding("fail", text)


async def guarded(check: Awaitable[list[Finding]]) -> list[Finding]:
    """The check's findings; a forge that can't be asked (network, rate limit, token) is one failure."""
    try:
        return await check
    except ForgeError as err:
        return [fail(str(err))]


def render(results: list[tuple[str, list[Finding]]]) -> tuple[str, bool]:
    """The report, and whether nothing failed."""
    lines = []
    for title, findings in results:
        lines.append(f"{title}:")
        lines += [f"  {LABELS[f.level]}  {f.text}" for f in findings] or ["  ok    nothing to check online"]
    return "\n".join(lines), all(f.level != "fail" for _, findings in results for f in findings)
