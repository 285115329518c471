"""Text as every store and output format can hold it, whatever arrived."""

from __future__ import annotations

import unicodedata
from typing import Any


def clean_text(value: str) -> str:
    """Text as every store and format can hold it: control characters (NUL above all, which
    PostgreSQL refuses and XML forbids) become U+FFFD; tabs and line breaks stay."""
    if value.isprintable():
        return value
    return "".join(c if c in "\t\n\r" or _allowed(c) else "\ufffd" for c in value)


def _allowed(char: str) -> bool:
    category = unicodedata.category(char)
    return category not in ("Cc", "Cs") and char not in "\ufffe\uffff"


def clean_strings(value: Any) -> Any:
    """`clean_text` over every string in a parsed JSON value, keys included."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_strings(v) for k, v in value.items()}
    return value
