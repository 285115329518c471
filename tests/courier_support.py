"""Settings for courier tests: a project whose team listens in the given channels."""

from __future__ import annotations

from commands.engine.settings import Settings
from tests.support import make_settings


def team_settings(tmp_path, *, team: list[str]) -> Settings:
    data = make_settings(tmp_path / "data").model_dump()
    data["projects"]["demo"]["channels"] = {"team": team, "announce": []}
    return Settings.model_validate(data)
