"""From what someone typed to a Reply: find the command, parse, resolve the person, check roles,
run the handler. Every refusal comes back as an error Reply; nothing here raises to an adapter."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from commands.engine import arguments, grammar, lookup
from commands.engine.arguments import ReleaseRef
from commands.engine.context import Caller, Invocation
from commands.engine.errors import CommandError, NotAllowed, NotFound, UsageError
from commands.engine.help import command_help
from commands.engine.permissions import authorize, roles_of
from commands.engine.reply import Reply
from commands.engine.services import Services
from commands.engine.settings import PersonSettings
from commands.engine.spec import CommandSpec, Kind
from commands.rules.lifecycle import IllegalTransition
from storage.database import unreachable

log = logging.getLogger("tower.commands")

OK, REFUSED, UNAVAILABLE, ERROR = "ok", "refused", "unavailable", "error"
T = TypeVar("T")
MAX_COMMAND_CHARS = 4000  # the audit log keeps the command as typed


@dataclass(frozen=True)
class CommandRecord:
    """One command as operators see it: in the log line and in the metrics."""

    command: str  # "/rc cut", or "?" when the words matched no command
    actor: str  # the person's handle, else platform:user id
    platform: str
    outcome: str  # ok, refused (bad input, permission, illegal transition), unavailable (database), error
    seconds: float


class Dispatcher:
    def __init__(self, services: Services, in_parallel: int = 8):
        self.services = services
        self.observers: list[Callable[[CommandRecord], None]] = []  # metrics subscribe here
        # Commands acknowledged faster than they can be run wait here, in order, rather than all
        # at once for the database pool (where they would time out) and the event loop.
        self._slots = asyncio.Semaphore(in_parallel)

    @property
    def registry(self):
        return self.services.registry

    async def call(self, work: Callable[[Services], Awaitable[T]]) -> T:
        """Run other work of a command (an adapter's bookkeeping) with these services."""
        return await work(self.services)

    async def run(self, text: str, caller: Caller) -> Reply:
        """Run a command typed as text (console, Slack)."""
        started = time.perf_counter()
        spec: CommandSpec | None = None
        try:
            tokens = grammar.tokenize(text.strip())
            words = [t.value for t in tokens]
            spec, used = self.registry.find(words)
            rest = tokens[used:]
            if any(t.value == "--help" and not t.quoted for t in rest):
                return command_help(spec)
            raw = grammar.parse(spec, rest)
            async with self._slots:
                reply, outcome = await self._run(spec, raw, caller, text.strip())
        except CommandError as err:
            reply, outcome = Reply.error(str(err)), REFUSED
        self._record(spec, caller, outcome, started)
        return reply

    async def run_parsed(self, spec: CommandSpec, raw: dict[str, object], caller: Caller, text: str) -> Reply:
        """Run a command whose options arrived already separated (Discord's typed options)."""
        started = time.perf_counter()
        try:
            async with self._slots:
                reply, outcome = await self._run(spec, raw, caller, text)
        except CommandError as err:
            reply, outcome = Reply.error(str(err)), REFUSED
        self._record(spec, caller, outcome, started)
        return reply

    async def _run(self, spec: CommandSpec, raw: dict[str, object], caller: Caller, text: str) -> tuple[Reply, str]:
        settings = self.services.settings
        if len(text) > MAX_COMMAND_CHARS:
            raise UsageError(f"That command is too long ({len(text):,} characters; at most {MAX_COMMAND_CHARS:,}).")
        args = arguments.convert(spec, raw, settings, today=self.services.clock.now().date())
        person = self.person_of(caller)
        project_key = _project_of(spec, args)
        try:
            # Changes resolve a bare PROJECT first, so who may act is judged on the release meant; reads
            # only when it names no open release (they cost no statement more in the common case).
            ref = await self._target(spec, args) if spec.mutates else _release_ref(spec, args)
            roles = await roles_of(
                self.services.db, person, settings, spec, project_key, ref, self.services.clock.now()
            )
            try:
                authorize(spec, person, roles, settings, project_key)
            except NotAllowed:
                # To a person Tower knows, a release that does not exist is said so, not a permission error.
                if ref is not None and person is not None:
                    async with self.services.db.read() as session:
                        await lookup.release(session, ref)
                raise
            inv = Invocation(spec=spec, caller=caller, person=person, roles=roles, args=args, text=text)
            try:
                reply = await spec.handler(inv, self.services)
            except NotFound:
                if spec.mutates or ref is None or await self._target(spec, args) == ref:
                    raise
                reply = await spec.handler(inv, self.services)  # the just-shipped release a bare PROJECT means
            if not spec.mutates:
                # Reading is personal; changes are shown to the channel so the team sees them.
                reply.ephemeral = True
            return reply, OK if reply.ok else REFUSED
        except IllegalTransition as err:
            return Reply.error(str(err)), REFUSED
        except CommandError:
            raise
        except Exception as err:
            storage = storage_problem(err)
            if storage:
                log.error("storage problem during /%s: %s (%s)", spec.path, storage, _reason(err))
                return Reply.error(
                    f"Tower's {storage}, so nothing was changed. Tell whoever runs Tower; commands work again "
                    "once it has room (or takes writes) again."
                ), UNAVAILABLE
            if unreachable(err):
                log.warning("database unavailable during /%s: %s", spec.path, type(err).__name__)
                return Reply.error(
                    "Tower's database is unreachable or busy right now, so nothing was changed. Try again in a minute."
                ), UNAVAILABLE
            incident = uuid.uuid4().hex[:8]
            log.exception("command /%s failed (incident %s)", spec.path, incident)
            return Reply.error(
                f"Something went wrong inside Tower (incident {incident}); the command was rolled back. "
                "Please tell whoever runs Tower and quote the incident id."
            ), ERROR

    async def _target(self, spec: CommandSpec, args: dict[str, object]) -> ReleaseRef | None:
        """The command's RELEASE, a bare PROJECT resolved to the release it means (`lookup.target`);
        `args` is updated, so the roles and the handler see the same release."""
        for option in spec.options:
            ref = args.get(option.name)
            if option.kind is Kind.RELEASE and isinstance(ref, ReleaseRef):
                if ref.version or ref.number is not None:
                    return ref
                async with self.services.db.read() as session:
                    args[option.name] = ref = await lookup.target(session, ref, self.services.clock.now())
                return ref
        return None

    def person_of(self, caller: Caller) -> PersonSettings | None:
        settings = self.services.settings
        if caller.platform == "console":
            return settings.person(caller.user_id)
        return settings.person_by_platform_id(caller.platform, caller.user_id)

    def _record(self, spec: CommandSpec | None, caller: Caller, outcome: str, started: float) -> None:
        person = self.person_of(caller)
        record = CommandRecord(
            command=f"/{spec.path}" if spec else "?",
            actor=person.handle if person else caller.label,
            platform=caller.platform,
            outcome=outcome,
            seconds=time.perf_counter() - started,
        )
        # What was typed stays out of the log: arguments are user text and may hold anything.
        log.info(
            "command=%s actor=%s outcome=%s ms=%.1f",
            record.command,
            record.actor,
            outcome,
            record.seconds * 1000,
            extra={
                "command": record.command,
                "actor": record.actor,
                "platform": record.platform,
                "outcome": outcome,
                "ms": round(record.seconds * 1000, 1),
            },
        )
        for observe in self.observers:
            observe(record)


def _project_of(spec: CommandSpec, args: dict[str, object]) -> str | None:
    for opt in spec.options:
        value = args.get(opt.name)
        if value is None:
            continue
        if opt.kind is Kind.PROJECT:
            return value.key  # type: ignore[attr-defined]
        if opt.kind is Kind.RELEASE:
            return value.project.key  # type: ignore[attr-defined]
    return None


# What the database says when it cannot take a write: SQLite's result codes (in its message) and
# PostgreSQL's SQLSTATEs. Reported as what they are, not as "busy": waiting a minute won't help.
_SQLITE_STORAGE = {"database or disk is full": "storage is full", "readonly database": "database is read-only"}
_POSTGRES_STORAGE = {"53100": "storage is full", "53000": "storage is full", "25006": "database is read-only"}


def storage_problem(err: BaseException) -> str | None:
    """ "storage is full" or "database is read-only" when that is why a command failed; else None."""
    original = getattr(err, "orig", None) or err
    state = getattr(original, "sqlstate", None) or getattr(getattr(original, "__cause__", None), "sqlstate", None)
    if state in _POSTGRES_STORAGE:
        return _POSTGRES_STORAGE[state]
    text = str(original).lower()
    return next((what for needle, what in _SQLITE_STORAGE.items() if needle in text), None)


def _reason(err: BaseException) -> str:
    original = getattr(err, "orig", None) or err
    return f"{type(original).__name__}: {str(original).splitlines()[0][:200] if str(original) else ''}"


def _release_ref(spec: CommandSpec, args: dict[str, object]) -> ReleaseRef | None:
    for option in spec.options:
        ref = args.get(option.name)
        if option.kind is Kind.RELEASE and isinstance(ref, ReleaseRef):
            return ref
    return None
