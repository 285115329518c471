"""Helpers for the CI provider test modules: a CI closed however its test ends, and the
`CIUnderTest` the CI contract asks for, counting what the provider's fake has started."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from tests.ci_contract import CIUnderTest

C = TypeVar("C")  # a CI: anything with `async close()`


@contextlib.asynccontextmanager
async def closing(ci: C) -> AsyncIterator[C]:
    """`async with closing(make_ci(...)) as ci:` closes the CI on the way out, also on an error."""
    try:
        yield ci
    finally:
        await ci.close()  # type: ignore[attr-defined]


def under_test(ci: Any, fake: Any, **flags: bool) -> CIUnderTest:
    """The CI for the contract tests; the fake's `started` counts the runs it really started."""

    async def started() -> int:
        return fake.started

    return CIUnderTest(ci, started, **flags)
