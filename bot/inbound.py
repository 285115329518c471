"""What arrives from outside, parsed defensively before anything else looks at it: bounded in size
and nesting, so a hostile body costs a 4xx, never a crash, a deep recursion or a long parse."""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 256 * 1024  # a CI callback or a Slack request is a few kilobytes
MAX_DEPTH = 32


class Malformed(ValueError):
    """The input is not what the endpoint takes; the message says what, for the 4xx answer."""


def parse_json(raw: bytes | str, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    if len(raw) > max_bytes:
        raise Malformed(f"the body is larger than {max_bytes // 1024} KiB")
    text = raw.decode("utf-8", errors="strict") if isinstance(raw, bytes) else raw
    if _depth(text) > max_depth:
        raise Malformed(f"the body nests deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise Malformed(f"the body is not JSON ({type(err).__name__})") from None


def parse_json_object(raw: bytes | str, **limits: int) -> dict[str, Any]:
    try:
        value = parse_json(raw, **limits)
    except UnicodeDecodeError:
        raise Malformed("the body is not UTF-8") from None
    if not isinstance(value, dict):
        raise Malformed("the body is not a JSON object")
    return value


def _depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings; one pass, no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def digits(text: str, max_length: int = 12) -> bool:
    """ASCII digits only: str.isdigit() also takes '²' and other scripts' digits, which int() refuses."""
    return 0 < len(text) <= max_length and text.isascii() and text.isdigit()
