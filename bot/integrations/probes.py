"""Health probes: read a number off a deployment, over HTTP (a JSON value) or from a command."""

from __future__ import annotations

import asyncio
import json
import re

import httpx

from commands.engine.ports import Reading
from commands.engine.settings import ProbeSettings

TIMEOUT_S = 15.0
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def json_path(data: object, path: str) -> object:
    """`result.layers[0].verified` (a leading `$.` is allowed)."""
    for name, index in _PART.findall(path.removeprefix("$").lstrip(".")):
        data = data[int(index)] if index else data[name]  # type: ignore[index]
    return data


class Prober:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None):
        self.client = httpx.AsyncClient(timeout=TIMEOUT_S, transport=transport, follow_redirects=True)

    async def read(self, probe: ProbeSettings) -> Reading:
        try:
            raw = await (self._http(probe) if probe.kind == "http" else self._command(probe))
        except (TimeoutError, httpx.HTTPError, OSError) as err:
            return Reading(None, False, f"unreachable: {type(err).__name__}")
        except (KeyError, IndexError, TypeError, ValueError) as err:
            return Reading(None, False, f"unreadable: {err}")
        try:
            return Reading(float(raw), True, str(raw))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return Reading(None, True, str(raw)[:200])  # a non-numeric value: fine for `equals`

    async def _http(self, probe: ProbeSettings) -> object:
        assert probe.url, "ProbeSettings requires url for kind 'http'"
        response = await self.client.get(probe.url)
        if response.status_code >= 400:
            raise ValueError(f"HTTP {response.status_code}")
        body = response.json()
        return json_path(body, probe.json_path) if probe.json_path else body

    async def _command(self, probe: ProbeSettings) -> object:
        assert probe.command, "ProbeSettings requires command for kind 'command'"
        proc = await asyncio.create_subprocess_shell(
            probe.command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT_S)
        if proc.returncode != 0:
            raise ValueError(f"exit {proc.returncode}")
        text = out.decode(errors="replace").strip().splitlines()
        value = text[-1] if text else ""
        return json_path(json.loads(value), probe.json_path) if probe.json_path else value

    async def close(self) -> None:
        await self.client.aclose()
