"""Deciding who may run a command, from Tower's configuration (and, later, its crew tables)."""

from __future__ import annotations

from commands.errors import NotAllowed
from commands.registry import CommandSpec
from commands.roles import Role
from commands.settings import PersonSettings, Settings


def roles_of(person: PersonSettings | None, settings: Settings, project_key: str | None) -> frozenset[Role]:
    roles = {Role.ANYONE}
    if person is not None:
        roles.add(Role.MEMBER)
        if person.handle in settings.release_managers(project_key):
            roles.add(Role.RELEASE_MANAGER)
    return frozenset(roles)


def authorize(spec: CommandSpec, person: PersonSettings | None, roles: frozenset[Role],
              settings: Settings, project_key: str | None) -> None:
    if spec.mutates and person is None:
        raise NotAllowed(
            f"Tower doesn't know you, so you may look but not change anything (`/{spec.path}`).",
            "Ask a release manager to add you under [people] in tower.toml.",
        )
    if roles & spec.allowed:
        return
    who = spec.who()
    managers = settings.release_managers(project_key)
    names = f" ({', '.join(managers)})" if Role.RELEASE_MANAGER in spec.allowed and managers else ""
    raise NotAllowed(f"Only {who}{names} may run `/{spec.path}`; you are {person.handle if person else 'not a configured person'}.")
