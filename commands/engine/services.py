"""What a handler may use besides its Invocation: settings, the database, the clock, the registry.

Built once by the composition root (bot/app.py) and passed to every handler; nothing is global.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from commands.engine.isolation import StepFailures
from commands.engine.ports import CIs, Clock, Forges, Prober
from commands.engine.registry import Registry
from commands.engine.settings import Settings
from commands.rules.redaction import Redactor
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
    # Takes secrets out of text from outside (command output, CI details) before it is stored or shown.
    redact: Callable[[str], str] = field(default_factory=Redactor)
    failures: StepFailures = field(default_factory=StepFailures)  # scheduled steps that failed, per project
