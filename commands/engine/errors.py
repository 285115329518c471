"""Errors a user can cause. Each carries one line that says what was wrong and what would work.

The dispatcher turns them into an error Reply; none of them is ever a crash, and a handler raises
them before it has changed anything (or inside the transaction, which then rolls back).
"""


class CommandError(Exception):
    """A command was refused. `str(err)` is the user-facing message."""

    kind = "error"

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(CommandError):
    """The text does not match the command's grammar (unknown option, missing argument, …)."""

    kind = "usage"


class NotFound(CommandError):
    """An unknown project, release or person."""

    kind = "not-found"


class NotAllowed(CommandError):
    """The actor lacks the role the command needs."""

    kind = "not-allowed"


class Conflict(CommandError):
    """The state does not allow it (illegal transition, lost race, duplicate)."""

    kind = "conflict"
