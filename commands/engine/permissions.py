"""Deciding who may run a command, from Tower's configuration and its crew tables — never from a
chat platform's permission hints."""

from __future__ import annotations

import re
from datetime import datetime

from commands.engine import lookup
from commands.engine.arguments import ReleaseRef
from commands.engine.errors import NotAllowed, NotFound
from commands.engine.roles import Role
from commands.engine.settings import PersonSettings, Settings
from commands.engine.spec import CommandSpec, Kind
from commands.rules.calendar_days import local_day
from commands.rules.rotation import acting_pilot
from storage.database import Database
from storage.queries import crew

_CREW_ROLES = {"pilot": Role.PILOT, "copilot": Role.COPILOT}


async def roles_of(
    db: Database,
    person: PersonSettings | None,
    settings: Settings,
    spec: CommandSpec,
    project_key: str | None,
    ref: ReleaseRef | None,
    now: datetime,
) -> frozenset[Role]:
    roles = {Role.ANYONE}
    if person is None:
        return frozenset(roles)
    roles.add(Role.MEMBER)
    if person.handle in settings.release_managers(project_key):
        roles.add(Role.RELEASE_MANAGER)
    if ref is not None and spec.allowed & set(_CREW_ROLES.values()):
        roles |= await _crew_roles(db, person.handle, ref, now)
    return frozenset(roles)


async def _crew_roles(db: Database, handle: str, ref: ReleaseRef, now: datetime) -> set[Role]:
    async with db.read() as session:
        try:
            _, release = await lookup.release(session, ref)
        except NotFound:
            return set()  # the handler says so, with the right message
        seats = await crew.seats(session, release.id, states=(crew.ACTIVE,))
        away = await crew.away_on(session, local_day(now, ref.project.timezone))
    held = {seat.role: person.handle for seat, person in seats if seat.role in _CREW_ROLES}
    roles = {_CREW_ROLES[role] for role, holder in held.items() if holder == handle}
    # The co-pilot fills in while the pilot is away: they may do what the pilot may.
    if acting_pilot(held.get("pilot"), held.get("copilot"), away) == handle:
        roles.add(Role.PILOT)
    return roles


def surely_refused(
    spec: CommandSpec, person: PersonSettings | None, settings: Settings, project_key: str | None
) -> bool:
    """Whether `authorize` will refuse whatever the crew tables hold: decided from config alone, so
    an adapter can know before any database work (Discord defers a sure refusal privately)."""
    if spec.mutates and person is None:
        return True
    possible = {Role.ANYONE}
    if person is not None:
        possible |= {Role.MEMBER, *_CREW_ROLES.values()}  # a seat on the crew is the database's to say
        if project_key is None or person.handle in settings.release_managers(project_key):
            possible.add(Role.RELEASE_MANAGER)
    return not possible & spec.allowed


def project_key_of(spec: CommandSpec, raw: dict[str, object]) -> str | None:
    """The project a command's options name, as typed (`demo`, `demo@1.3.0`, `demo#2`); None if none."""
    for option in spec.options:
        value = raw.get(option.name)
        if isinstance(value, str) and option.kind in (Kind.PROJECT, Kind.RELEASE):
            return re.split(r"[@#]", value, maxsplit=1)[0].strip() or None
    return None


def authorize(
    spec: CommandSpec,
    person: PersonSettings | None,
    roles: frozenset[Role],
    settings: Settings,
    project_key: str | None,
) -> None:
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
    raise NotAllowed(
        f"Only {who}{names} may run `/{spec.path}`; you are {person.handle if person else 'not a configured person'}."
    )
