"""Who may run what. Tower decides from its own configuration and tables, never from a chat
platform's permission hints."""

from enum import StrEnum


class Role(StrEnum):
    ANYONE = "anyone"
    MEMBER = "member"  # a configured person (unknown chat users may only read)
    RELEASE_MANAGER = "release-manager"
    PILOT = "pilot"
    COPILOT = "copilot"

    @property
    def plural(self) -> str:
        return {
            Role.ANYONE: "anyone",
            Role.MEMBER: "configured people",
            Role.RELEASE_MANAGER: "release managers",
            Role.PILOT: "the pilot",
            Role.COPILOT: "the co-pilot",
        }[self]


ANYONE = frozenset({Role.ANYONE})
MEMBERS = frozenset({Role.MEMBER})
RELEASE_MANAGERS = frozenset({Role.RELEASE_MANAGER})
CREW = frozenset({Role.PILOT, Role.COPILOT, Role.RELEASE_MANAGER})
PILOT_OR_MANAGER = frozenset({Role.PILOT, Role.RELEASE_MANAGER})


def describe(allowed: frozenset[Role]) -> str:
    """'the pilot or release managers' — for help text and refusals."""
    order = [Role.PILOT, Role.COPILOT, Role.RELEASE_MANAGER, Role.MEMBER, Role.ANYONE]
    if {Role.PILOT, Role.COPILOT} <= allowed:
        names = ["the crew"] + [r.plural for r in order[2:] if r in allowed]
    else:
        names = [r.plural for r in order if r in allowed]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
