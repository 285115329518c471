"""The console adapter: `tower shell`.

On a terminal it is interactive, with a prompt, history and completion (the standard library's
readline: no extra dependency, no start-up cost). With piped input it runs one command per line,
prints each reply, and exits non-zero if any command failed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from bot.app import Tower
from bot.courier import Courier
from commands.engine.context import Caller
from commands.engine.registry import Registry
from commands.engine.reply import Reply
from commands.engine.settings import Settings
from commands.engine.spec import Kind
from commands.rules.wording import plural
from storage.queries import outbox

PROMPT = "tower> "
EXIT_WORDS = {"exit", "quit", ":quit", ":q"}


def render(reply: Reply) -> str:
    """A Reply as terminal text: headline, fields, sections, buttons as the commands they run."""
    lines = [reply.text]
    width = max((len(f.label) for f in reply.fields), default=0)
    lines += [f"  {f.label.ljust(width)}  {f.value}" for f in reply.fields]
    for section in reply.sections:
        lines.append(section)
    for button in reply.buttons:
        lines.append(f"  [{button.label}]  {button.command}")
    if reply.footer:
        lines.append(reply.footer)
    return "\n".join(lines).replace("`", "")


class ConsoleSender:
    """Delivers posts for `console:NAME` channels (the demo's team channel) and `console-dm:HANDLE`
    direct messages by printing them."""

    def __init__(self, out: TextIO, direct: bool = False):
        self.out = out
        self.direct = direct  # console-dm:HANDLE, a direct message

    async def send(self, channel_id: str, reply: Reply, key: str) -> str | None:
        lines = render(reply).splitlines()
        if reply.mentions:
            lines[0] = " ".join(f"@{h}" for h in reply.mentions) + " " + lines[0]
        where = f"to {channel_id}" if self.direct else f"#{channel_id}"
        print("\n".join(f"{where} | {line}" for line in lines), file=self.out, flush=True)
        return key or None  # the "message id": a correction refers to it

    async def edit(self, channel_id: str, message_id: str, reply: Reply) -> str | None:
        await self.send(channel_id, Reply(text=f"(corrected) {reply.text}"), "")
        return message_id

    async def find(self, channel_id: str, key: str, since) -> str | None:
        return None  # printing cannot half-succeed


class Console:
    def __init__(
        self,
        tower: Tower,
        person: str | None,
        loop: asyncio.AbstractEventLoop,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
    ):
        self.tower = tower
        self.person = person
        self.loop = loop
        self.out, self.err = out, err
        self.failures = 0
        self.courier = Courier(
            tower.services.db,
            tower.services.clock,
            {"console": ConsoleSender(out), "console-dm": ConsoleSender(out, direct=True)},
            settings=tower.settings,
        )

    @property
    def caller(self) -> Caller:
        return Caller(platform="console", user_id=self.person or "guest")

    def execute(self, line: str) -> bool:
        """Run one line; print its reply. False if it was refused."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith(":as"):
            return self._switch_person(line[3:].strip())
        mark = self.loop.run_until_complete(self._last_queued())
        reply = self.loop.run_until_complete(self.tower.dispatcher.run(line, self.caller))
        if reply.ok:
            print(render(reply), file=self.out, flush=True)
        else:
            self.failures += 1
            print(f"error: {render(reply)}", file=self.err, flush=True)
        # Local CI runs finish (the demo deploys in a blink), then what the command and they told
        # console channels (the demo's #team) shows right after the reply.
        self.loop.run_until_complete(self.catch_up())
        waiting = self.loop.run_until_complete(self._waiting(mark))
        if waiting:
            print(waiting, file=self.out, flush=True)
        return reply.ok

    async def _last_queued(self) -> int:
        async with self.tower.services.db.read() as session:
            return await outbox.last_id(session)

    async def _waiting(self, mark: int) -> str | None:
        """What the command queued that this shell cannot post: Slack, Discord and webhooks go out
        from `tower run`, so say so rather than leave them silently missing."""
        now = self.tower.services.clock.now()
        async with self.tower.services.db.read() as session:
            rows = await outbox.waiting_since(session, mark, now, self.courier.senders)
        if not rows:
            return None
        channels = ", ".join(dict.fromkeys(r.channel for r in rows))
        verb = "post waits" if len(rows) == 1 else "posts wait"
        return f"({len(rows)} {verb} for `tower run` to deliver: {channels})"

    async def catch_up(self, wait: float | None = 30.0) -> None:
        """The shell runs no scheduler: what has come due (a simmer passing, a page escalating) happens
        between commands instead, and local CI runs are waited for."""
        from jobs.scheduler import due_work

        await self.tower.cis.settle(wait)
        await due_work(self.tower.services)
        await self.courier.drain()

    def finish(self) -> None:
        """Before the shell exits: the local CI runs it started finish first (leaving would stop their
        commands halfway), and what they report shows."""
        going = self.tower.cis.running()
        if not going:
            return
        them = "them" if going != 1 else "it"
        print(
            f"Waiting for {plural(going, 'local CI run')} this shell started to finish (Ctrl-C stops {them})…",
            file=self.err,
            flush=True,
        )
        self.loop.run_until_complete(self.catch_up(wait=None))

    def _switch_person(self, handle: str) -> bool:
        if self.tower.settings.person(handle) is None:
            known = ", ".join(sorted(self.tower.settings.people))
            print(f"error: unknown person {handle!r}; known: {known}", file=self.err, flush=True)
            self.failures += 1
            return False
        self.person = handle
        print(f"You are now {handle}.", file=self.out, flush=True)
        return True

    def run_lines(self, lines: Iterable[str]) -> int:
        for line in lines:
            if line.strip() in EXIT_WORDS:
                break
            self.execute(line)
        return 1 if self.failures else 0

    def run_interactive(self, history: Path) -> int:
        readline = _setup_readline(history, Completer(self.tower.services.registry, self.tower.settings))
        who = self.person or "a guest (read-only; use --as PERSON to act)"
        print(f"Tower shell — you are {who}. Type /help, or exit to leave.", file=self.out, flush=True)
        while True:
            try:
                line = input(PROMPT)
            except EOFError:
                print(file=self.out)
                break
            except KeyboardInterrupt:
                print("^C", file=self.out)
                continue
            if line.strip() in EXIT_WORDS:
                break
            self.execute(line)
        if readline is not None:
            try:
                readline.write_history_file(str(history))
            except OSError:
                pass
        return 0


def _setup_readline(history: Path, completer: Completer):
    try:
        import readline
    except ImportError:  # not on every platform; the shell still works without it
        return None
    history.parent.mkdir(parents=True, exist_ok=True)
    try:
        readline.read_history_file(str(history))
    except (FileNotFoundError, OSError):
        pass
    readline.set_history_length(1000)
    readline.set_completer_delims(" \t\n")
    readline.set_completer(completer.complete)
    binding = "bind ^I rl_complete" if "libedit" in (readline.__doc__ or "") else "tab: complete"
    readline.parse_and_bind(binding)
    return readline


class Completer:
    """Tab completion from the registry: command words, then options, projects and people."""

    def __init__(self, registry: Registry, settings: Settings):
        self.registry = registry
        self.settings = settings
        self._matches: list[str] = []

    def candidates(self, line: str) -> list[str]:
        words = line.split()
        if line.endswith(" ") or not words:
            words.append("")
        current, before = words[-1], words[:-1]
        if not before:
            heads = [f"/{g}" for g in self.registry.groups()] + [f"/{s.name}" for s in self.registry.top_level()]
            return [h for h in heads if h.startswith(current if current.startswith("/") else "/" + current)]
        group = before[0].lstrip("/")
        if len(before) == 1 and group in self.registry.groups():
            return [s.name for s in self.registry.in_group(group) if s.name.startswith(current)]
        spec = self.registry.get(" ".join(w.lstrip("/") for w in before[:2])) or self.registry.get(group)
        if spec is None:
            return []
        if current.startswith("-"):
            return [f"--{o.name}" for o in spec.options if not o.positional and f"--{o.name}".startswith(current)]
        kinds = {o.kind for o in spec.options}
        pool: list[str] = []
        if kinds & {Kind.PROJECT, Kind.RELEASE}:
            pool += list(self.settings.projects)
        if Kind.PERSON in kinds:
            pool += list(self.settings.people)
        return [p for p in pool if p.startswith(current)]

    def complete(self, text: str, state: int) -> str | None:
        if state == 0:
            import readline

            self._matches = self.candidates(readline.get_line_buffer()[: readline.get_endidx()])
        return self._matches[state] + " " if state < len(self._matches) else None


def default_person(explicit: str | None, tower: Tower, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The shell's actor: --as, else TOWER_AS, else the login name if it is a configured person.
    Returns (person, error)."""
    chosen = explicit or env.get("TOWER_AS")
    if chosen:
        if tower.settings.person(chosen) is None:
            known = ", ".join(sorted(tower.settings.people)) or "nobody is configured"
            return None, f"unknown person {chosen!r} for --as; known: {known}"
        return chosen, None
    login = env.get("USER", "")
    return (login if tower.settings.person(login) else None), None
