"""Counting things in replies: "1 feature", "2 features". Pure."""

from __future__ import annotations

_IRREGULAR = {"person": "people", "day": "days", "entry": "entries", "reply": "replies"}


def plural(count: float, noun: str, many: str | None = None) -> str:
    """`count` and the noun, singular for exactly one. Counts may be fractional (1.5 days)."""
    word = noun if count == 1 else (many or _IRREGULAR.get(noun) or noun + "s")
    return f"{count:g} {word}"
