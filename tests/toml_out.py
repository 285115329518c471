"""Just enough TOML writing to turn test settings into a tower.toml for a `tower run` process."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (str, Path)):
        return json.dumps(str(value))  # JSON's escapes are TOML's basic-string escapes
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(type(value))


def dumps(settings: dict) -> str:
    lines = []
    for section in ("tower", "team"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {_value(v)}" for k, v in settings.get(section, {}).items() if v is not None]
    for section, id_key in (("people", "handle"), ("projects", "key")):
        for name, table in settings.get(section, {}).items():
            lines.append(f"[{section}.{json.dumps(name)}]")
            lines += [f"{k} = {_value(v)}" for k, v in table.items() if v is not None and k != id_key]
    return "\n".join(lines) + "\n"
