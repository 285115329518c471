"""Every command Tower offers, listed explicitly: no discovery, no import side effects.

Adding a command group means adding its module here; adapters need no change.
"""

from commands import (announce, candidates, checklist, deploys, meta, naming, paging, release, rotation, schedule, scope,
                      shipping, simmer)
from commands.registry import Registry


def build_registry() -> Registry:
    registry = Registry()
    for group in (meta.COMMANDS, release.COMMANDS, naming.COMMANDS, shipping.COMMANDS, scope.COMMANDS,
                  checklist.COMMANDS, candidates.COMMANDS, schedule.COMMANDS, deploys.COMMANDS, simmer.COMMANDS,
                  announce.COMMANDS, rotation.COMMANDS, paging.COMMANDS):
        registry.extend(group)
    return registry
