"""Every command Tower offers, listed explicitly: no discovery, no import side effects.

Adding a command group means adding its module here; adapters need no change.
"""

from commands.crew import paging, rotation
from commands.deploy import deploys, simmer
from commands.engine import meta
from commands.engine.registry import Registry
from commands.release import announce, naming, notes, shipping
from commands.release import cycle as release
from commands.scope import candidates, checklist, schedule
from commands.scope import features as scope


def build_registry() -> Registry:
    registry = Registry()
    for group in (
        meta.COMMANDS,
        release.COMMANDS,
        naming.COMMANDS,
        notes.COMMANDS,
        shipping.COMMANDS,
        scope.COMMANDS,
        checklist.COMMANDS,
        candidates.COMMANDS,
        schedule.COMMANDS,
        deploys.COMMANDS,
        simmer.COMMANDS,
        announce.COMMANDS,
        rotation.COMMANDS,
        paging.COMMANDS,
    ):
        registry.extend(group)
    return registry
