"""Every command Tower offers, listed explicitly: no discovery, no import side effects.

Adding a command group means adding its module here; adapters need no change.
"""

from commands import candidates, meta, naming, paging, release, rotation, shipping
from commands.registry import Registry


def build_registry() -> Registry:
    registry = Registry()
    for group in (meta.COMMANDS, release.COMMANDS, naming.COMMANDS, shipping.COMMANDS, candidates.COMMANDS,
                  rotation.COMMANDS, paging.COMMANDS):
        registry.extend(group)
    return registry
