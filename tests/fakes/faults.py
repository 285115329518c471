"""Faults the fake servers inject into their next requests: each is of a kind the fake gives meaning to
("fail", "delay", ...), for requests with an HTTP method and a path matching a regex (searched, not
fully matched), and carries a value (the status to answer, the seconds to wait, the action to run).
It is used up after `count` requests; faults of one kind apply in the order they were added."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    kind: str
    method: str
    pattern: re.Pattern[str]
    count: int  # how many more requests it applies to
    value: Any


class Faults:
    def __init__(self) -> None:
        self._pending: list[Fault] = []

    def add(self, kind: str, method: str, path_regex: str, value: Any, count: int = 1) -> None:
        """Apply `value` to the next `count` requests with `method` whose path matches `path_regex`
        ("" matches any path)."""
        if count > 0:
            self._pending.append(Fault(kind, method.upper(), re.compile(path_regex), count, value))

    def take(self, kind: str, method: str, path: str) -> Any:
        """The value of the first pending fault of `kind` for this request, using it once; None if none."""
        fault = self.take_fault(method, path, kind)
        return None if fault is None else fault.value

    def take_fault(self, method: str, path: str, kind: str | None = None) -> Fault | None:
        """The first pending fault for this request, of `kind` or (None) of any kind, using it once."""
        for fault in self._pending:
            if kind in (None, fault.kind) and fault.method == method and fault.pattern.search(path):
                fault.count -= 1
                if fault.count == 0:
                    self._pending.remove(fault)
                return fault
        return None
