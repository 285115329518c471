"""The command registry: one declarative spec per command.

Adapters derive everything from it (Discord app commands, Slack slash commands, the console's
parser, completion and help), so adding a command never touches an adapter.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from commands.engine.errors import UsageError
from commands.engine.spec import CommandSpec


class DuplicateCommand(Exception):
    pass


class Registry:
    """Commands by path. Registration order is the order help lists them in."""

    def __init__(self) -> None:
        self._specs: dict[tuple[str | None, str], CommandSpec] = {}

    def add(self, spec: CommandSpec) -> None:
        key = (spec.group, spec.name)
        if key in self._specs:
            raise DuplicateCommand(f"command /{spec.path} is registered twice")
        if spec.group is None and spec.name in self.groups():
            raise DuplicateCommand(f"command /{spec.name} clashes with the command group /{spec.name}")
        if spec.group is not None and (None, spec.group) in self._specs:
            raise DuplicateCommand(f"command group /{spec.group} clashes with the command /{spec.group}")
        names = [o.name for o in spec.options]
        if len(names) != len(set(names)):
            raise DuplicateCommand(f"command /{spec.path} declares an option twice")
        self._specs[key] = spec

    def extend(self, specs: Iterable[CommandSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def __iter__(self):
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def groups(self) -> list[str]:
        seen: dict[str, None] = {}
        for group, _ in self._specs:
            if group is not None:
                seen[group] = None
        return list(seen)

    def in_group(self, group: str) -> list[CommandSpec]:
        return [s for (g, _), s in self._specs.items() if g == group]

    def top_level(self) -> list[CommandSpec]:
        return [s for (g, _), s in self._specs.items() if g is None]

    def get(self, path: str) -> CommandSpec | None:
        words = path.lstrip("/").split()
        if len(words) == 1:
            return self._specs.get((None, words[0]))
        if len(words) == 2:
            return self._specs.get((words[0], words[1]))
        return None

    def has(self, path: str) -> bool:
        return self.get(path) is not None

    def find(self, words: list[str]) -> tuple[CommandSpec, int]:
        """The command the first words name, and how many words that took. Refuses with the
        closest existing command when there is none."""
        if not words:
            raise UsageError("Type a command, for example `/help`.")
        head = words[0].lstrip("/").lower()
        if (None, head) in self._specs:
            return self._specs[(None, head)], 1
        if head in self.groups():
            subs = [s.name for s in self.in_group(head)]
            if len(words) < 2:
                raise UsageError(
                    f"`/{head}` needs a subcommand: {', '.join(subs)}.",
                    f"Try `/help {head}`.",
                )
            sub = words[1].lower()
            if (head, sub) in self._specs:
                return self._specs[(head, sub)], 2
            close = difflib.get_close_matches(sub, subs, n=1, cutoff=0.5)
            hint = f"Did you mean `/{head} {close[0]}`?" if close else f"`/{head}` has: {', '.join(subs)}."
            raise UsageError(f"Unknown command `/{head} {sub}`.", hint)
        names = list(self.groups()) + [s.name for s in self.top_level()]
        close = difflib.get_close_matches(head, names, n=1, cutoff=0.5)
        hint = f"Did you mean `/{close[0]}`?" if close else "Type `/help` to see every command."
        raise UsageError(f"Unknown command `/{head}`.", hint)
