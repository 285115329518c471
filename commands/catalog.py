"""Every command Tower offers, listed explicitly: no discovery, no import side effects.

Adding a command group means adding its module here; adapters need no change.
"""

from commands import candidates, checklist, meta, naming, paging, release, rotation, schedule, scope, shipping
from commands.registry import Registry


def build_registry() -> Registry:
    registry = Registry()
    for group in (meta.COMMANDS, release.COMMANDS, naming.COMMANDS, shipping.COMMANDS, scope.COMMANDS,
                  checklist.COMMANDS, candidates.COMMANDS, schedule.COMMANDS, rotation.COMMANDS, paging.COMMANDS):
        registry.extend(group)
    return registry
