"""What a handler may use besides its Invocation: settings, the database, the clock, the registry.

Built once by the composition root (bot/app.py) and passed to every handler; nothing is global.
"""

from __future__ import annotations

from dataclasses import dataclass

from commands.engine.ports import CIs, Clock, Forges, Prober
from commands.engine.registry import Registry
from commands.engine.settings import Settings
from storage.database import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    registry: Registry
    forges: Forges
    cis: CIs
    prober: Prober
