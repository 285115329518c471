"""Secrets handed over as files (Docker and Kubernetes secrets): `NAME_FILE=/run/secrets/x` sets
`NAME` to that file's content, for the variables that hold secrets — every name that says TOKEN,
SECRET, PASSWORD or KEY, and TOWER_DATABASE_URL. The content is never logged or echoed."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from commands.rules.redaction import looks_secret

SUFFIX = "_FILE"
ALSO = frozenset({"TOWER_DATABASE_URL"})
MAX_BYTES = 64 * 1024


class SecretFileError(Exception):
    pass


def with_secret_files(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with each secret's `NAME_FILE` read into `NAME` (one final newline dropped); an empty file
    leaves `NAME` unset (a platform not used). Setting both `NAME` and `NAME_FILE`, or naming a file
    that cannot be read, is an error naming the variable."""
    resolved = dict(env)
    for key, path in env.items():
        name = key.removesuffix(SUFFIX)
        if not key.endswith(SUFFIX) or not name or not (looks_secret(name) or name in ALSO):
            continue
        if env.get(name):
            raise SecretFileError(f"{name} and {key} are both set; set one of them")
        value = _read(key, Path(path))
        if value:
            resolved[name] = value
    return resolved


def _read(key: str, path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        raise SecretFileError(f"{key}: cannot read {path}: {err.strerror or err}") from None
    if len(data) > MAX_BYTES:
        raise SecretFileError(f"{key}: {path} is over {MAX_BYTES // 1024} KiB; a secret is a short value")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretFileError(f"{key}: {path} is not UTF-8 text") from None
    return text.removesuffix("\n").removesuffix("\r")
