"""Tag names for candidates and releases. Pure.

rc scheme:    v0.5.0-boot, v0.5.0-rc1, v0.5.0-rc2, interim builds v0.5.0-rc1-p1, -p2
build scheme: v1.2.3+1, v1.2.3+2, … (a failed deploy is fixed and shipped as the next build)
final:        v1.2.3
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass


class TagRefused(ValueError):
    pass


@dataclass(frozen=True)
class Cut:
    kind: str  # boot, rc, patch, build
    tag: str
    rc: int | None = None
    patch: int | None = None
    build: int | None = None

    @property
    def label(self) -> str:
        """The candidate's own name, for its annotation: rc10, rc1-p1, boot, build 4."""
        if self.kind == "build":
            return f"build {self.build}"
        if self.kind == "boot":
            return "boot"
        return f"rc{self.rc}" + (f"-p{self.patch}" if self.kind == "patch" else "")


@dataclass(frozen=True)
class Existing:
    kind: str
    rc: int | None
    patch: int | None
    build: int | None


def next_cut(
    scheme: str,
    prefix: str,
    version: str,
    existing: list[Existing],
    *,
    boot: bool = False,
    patch: bool = False,
    taken: Collection[str] = (),
) -> Cut:
    """The next candidate after `existing` (in the order they were cut). `taken` are tags already on
    the forge that Tower did not cut (someone tagged by hand): their numbers are skipped."""
    if boot and patch:
        raise TagRefused("Choose `--boot` or `--patch`, not both.")
    base = f"{prefix}{version}"
    if scheme == "build":
        if boot or patch:
            raise TagRefused(
                "This project tags builds (v1.2.3+N); `/rc cut` without --boot or --patch cuts the next one."
            )
        number = _free(max((e.build or 0 for e in existing), default=0) + 1, lambda n: f"{base}+{n}" in taken)
        return Cut("build", f"{base}+{number}", build=number)
    rcs = [e for e in existing if e.kind in ("rc", "patch")]
    if boot:
        if any(e.kind == "boot" for e in existing):
            raise TagRefused(f"{base}-boot exists already; `/rc cut` cuts the first RC.")
        if rcs:
            raise TagRefused("The bootstrap tag comes before the first RC, and RCs exist already.")
        if f"{base}-boot" in taken:
            raise TagRefused(
                f"{base}-boot is already on the forge, tagged outside Tower; `/rc cut` cuts the first RC instead."
            )
        return Cut("boot", f"{base}-boot")
    if patch:
        if not rcs:
            raise TagRefused(
                "`--patch` makes an interim build of the latest RC, and there is no RC yet; `/rc cut` cuts rc1."
            )
        rc = rcs[-1].rc
        after = max((e.patch or 0 for e in rcs if e.rc == rc), default=0) + 1
        number = _free(after, lambda n: f"{base}-rc{rc}-p{n}" in taken)
        return Cut("patch", f"{base}-rc{rc}-p{number}", rc=rc, patch=number)
    # An RC number is taken when its tag or any interim build of it exists.
    rc = _free(
        max((e.rc or 0 for e in rcs), default=0) + 1,
        lambda n: any(t == f"{base}-rc{n}" or t.startswith(f"{base}-rc{n}-") for t in taken),
    )
    return Cut("rc", f"{base}-rc{rc}", rc=rc)


def _free(start: int, is_taken: Callable[[int], bool]) -> int:
    number = start
    while is_taken(number):
        number += 1
    return number


def final_tag(prefix: str, version: str) -> str:
    return f"{prefix}{version}"
