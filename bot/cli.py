"""`tower`: the command-line entry point.

Each subcommand imports only what it needs, so `tower shell` starts quickly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from bot import config, logs
from commands.rules.wording import plural


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tower", description="Chat-ops for software releases.")
    parser.add_argument(
        "--config", metavar="PATH", help="tower.toml to use (default: TOWER_CONFIG, ./tower.toml, or the built-in demo)"
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log more: Tower's debug lines (-vv: every library's too)"
    )
    parser.add_argument("--version", action="version", version=f"tower {_version()}")
    # Without a subcommand Tower opens the shell, whose options then take their defaults.
    parser.set_defaults(person=None, one=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND (default: shell)")

    shell = sub.add_parser("shell", help="run commands from the terminal (interactive, or one per line from a pipe)")
    shell.add_argument(
        "--as",
        dest="person",
        metavar="PERSON",
        help="act as this configured person (default: TOWER_AS or your login name)",
    )
    shell.add_argument("-c", "--command", dest="one", metavar="TEXT", help="run one command and exit")

    sub.add_parser("run", help="run Tower: HTTP server, scheduler and the chat adapters")

    init = sub.add_parser("init", help="write a commented starter tower.toml")
    init.add_argument("path", nargs="?", default="tower.toml")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")

    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade", "check", "current"])

    manifest = sub.add_parser("slack-manifest", help="print a Slack app manifest (JSON) for Tower's commands")
    manifest.add_argument("--url", help="Tower's public base URL (default: [tower] public_url)")
    manifest.add_argument("--socket-mode", action="store_true", help="for Socket Mode (no public URL needed)")

    cal = sub.add_parser("calendar", help="write a project's crew calendar (iCalendar)")
    cal.add_argument("project")
    cal.add_argument("-o", "--output", metavar="FILE", help="write here instead of printing it")

    pages = sub.add_parser("pages", help="the release pages as static files")
    pages.add_argument("action", choices=["build"])
    pages.add_argument("directory", help="where to write them")

    sub.add_parser("discord-sync", help="register Tower's commands with Discord now (needs DISCORD_TOKEN)")
    check = sub.add_parser("check-config", help="validate the configuration and exit")
    check.add_argument(
        "--online", action="store_true", help="also ask each project's GitHub or GitLab what its tokens may do"
    )
    sub.add_parser("version", help="print Tower's version")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tower")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader went away (`tower … | head`): stop quietly, as other command-line tools do.
        # Whatever is still buffered would fail again when Python flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a program the pipe ended


def _configure_logging(verbose: int, command: str, fmt: str | None) -> None:
    quiet = logging.INFO if command == "run" else logging.WARNING
    # -v: Tower's own debug lines, libraries at INFO; -vv: everything, aiosqlite's every call included.
    logs.configure(logging.DEBUG if verbose > 1 else (logging.INFO if verbose else quiet), fmt)
    if verbose:
        logging.getLogger("tower").setLevel(logging.DEBUG)
    if verbose < 2:
        # Their INFO lines are about their internals; Tower says what matters itself.
        for noisy in ("alembic", "apscheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    env = config.environment()
    command = args.command or "shell"
    _configure_logging(args.verbose, command, env.get("TOWER_LOG_FORMAT"))
    if command == "version":
        print(f"tower {_version()}")
        return 0
    if command == "init":
        return _init(Path(args.path), args.force)
    try:
        settings = config.load(config.locate(args.config, env), env)
    except config.ConfigError as err:
        print(f"tower: invalid configuration:\n{err}", file=sys.stderr)
        return 2
    if command == "slack-manifest":
        return _slack_manifest(settings, args.url, args.socket_mode)
    if command == "pages":
        return asyncio.run(_pages(settings, env, Path(args.directory)))
    if command == "calendar":
        return asyncio.run(_calendar(settings, env, args.project, args.output))
    if command == "discord-sync":
        return asyncio.run(_discord_sync(settings, env))
    if command == "check-config":
        from bot.demo import DEMO_SOURCE
        from bot.integrations.local_checks import local_problems

        problems = [] if settings.source == DEMO_SOURCE else asyncio.run(local_problems(settings))
        if problems:
            print(f"tower: invalid configuration:\n{config.ConfigError(settings.source, problems)}", file=sys.stderr)
            return 2
        print(
            f"{settings.source}: OK — {plural(len(settings.projects), 'project')}, "
            f"{plural(len(settings.people), 'person')}"
        )
        if not args.online:
            return 0
        from bot.integrations.online_checks import check_online

        report, fine = asyncio.run(check_online(settings, env))
        print(report)
        return 0 if fine else 1
    from bot.app import StartupError

    try:
        if command == "shell":
            return _shell(settings, env, args.person, args.one)
        if command == "run":
            from bot.service import serve

            asyncio.run(serve(settings, env))
            return 0
        if command == "db":
            from sqlalchemy.exc import DBAPIError

            try:
                return asyncio.run(_db(settings, env, args.action))
            except (OSError, DBAPIError) as err:
                from storage.database import redacted

                url = redacted(config.database_url(settings, env))
                print(f"tower: can't use the database at {url}: {type(err).__name__}", file=sys.stderr)
                return 2
    except StartupError as err:
        print(f"tower: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 2


def _slack_manifest(settings, url: str | None, socket_mode: bool) -> int:
    import json

    from bot.platforms.slack_manifest import manifest
    from commands.catalog import build_registry

    public_url = url or settings.tower.public_url
    if not socket_mode:
        where = "--url" if url else "[tower] public_url"
        if not public_url:
            print(
                "tower: Slack needs Tower's public URL: pass --url https://tower.example.com "
                "(or set [tower] public_url), or use --socket-mode",
                file=sys.stderr,
            )
            return 2
        if not public_url.startswith("https://"):
            print(f"tower: Slack calls only https:// URLs; {where} is {public_url}", file=sys.stderr)
            return 2
    doc = manifest(
        build_registry(), public_url=public_url, prefix=settings.tower.slack_command_prefix, socket_mode=socket_mode
    )
    print(json.dumps(doc, indent=2))
    return 0


def _init(path: Path, force: bool) -> int:
    if path.exists() and not force:
        print(f"tower: {path} exists; use --force to overwrite it", file=sys.stderr)
        return 2
    path.write_text(config.example_text(), encoding="utf-8")
    print(f"Wrote {path}. Edit it, then check it with: tower --config {path} check-config")
    return 0


def _shell(settings, env: dict[str, str], person: str | None, one: str | None) -> int:
    from bot.app import open_tower
    from bot.platforms.console import Console, default_person

    loop = asyncio.new_event_loop()
    tower = loop.run_until_complete(open_tower(settings, env))
    try:
        actor, problem = default_person(person, tower, env)
        if problem:
            print(f"tower: {problem}", file=sys.stderr)
            return 2
        console = Console(tower, actor, loop)
        if one is not None:
            code = 0 if console.execute(one) else 1
        elif sys.stdin.isatty():
            code = console.run_interactive(settings.data_dir / "shell_history")
        else:
            code = console.run_lines(sys.stdin)
        console.finish()  # its local runs are not cut short by its leaving
        return code
    finally:
        loop.run_until_complete(tower.close())
        loop.close()


async def _pages(settings, env: dict[str, str], out: Path) -> int:
    from bot.app import open_tower
    from bot.pages.site import build

    tower = await open_tower(settings, env)
    try:
        written = await build(tower.services, out)
    finally:
        await tower.close()
    print(f"Wrote {len(written)} files to {out}.")
    return 0


async def _calendar(settings, env: dict[str, str], key: str, output: str | None) -> int:
    from bot.app import open_tower
    from commands.crew.calendar import project_calendar

    project = settings.project(key)
    if project is None:
        print(f"tower: unknown project {key!r}; known: {', '.join(settings.projects)}", file=sys.stderr)
        return 2
    tower = await open_tower(settings, env)
    try:
        text = await project_calendar(tower.services, project)
    finally:
        await tower.close()
    if output:
        await asyncio.to_thread(Path(output).write_text, text, encoding="utf-8", newline="")
        print(f"Wrote {output}.")
    else:
        sys.stdout.write(text)
    return 0


async def _discord_sync(settings, env: dict[str, str]) -> int:
    from bot.app import open_tower
    from bot.config import ChatEnvironment
    from bot.platforms.discord import DiscordAdapter

    chat = ChatEnvironment.read(env, settings)
    if not chat.discord_token:
        print("tower: DISCORD_TOKEN is not set", file=sys.stderr)
        return 2
    tower = await open_tower(settings, env)
    adapter = DiscordAdapter(
        tower.services,
        tower.dispatcher,
        token=chat.discord_token,
        guild_ids=chat.discord_guild_ids,
        api_url=chat.discord_api_url,
        gateway_url=chat.discord_gateway_url,
    )
    try:
        await adapter.login_only()
        synced = await adapter.sync()
    finally:
        await adapter.close()
        await tower.close()
    where = ", ".join(chat.discord_guild_ids) or "globally (may take up to an hour to appear)"
    print(f"Synced {len(synced)} command groups and commands {where}.")
    return 0


async def _db(settings, env: dict[str, str], action: str) -> int:
    from bot.app import DATABASE_PROBLEMS, database_problem
    from storage import migrate
    from storage.database import Database, redacted

    url = config.database_url(settings, env)
    db = Database(url, schema=env.get("TOWER_DATABASE_SCHEMA") or None)
    try:
        if action == "upgrade":
            result = await migrate.upgrade(db)
            print(
                f"{redacted(url)}: "
                + (
                    f"upgraded {result.before or 'empty'} → {result.after}"
                    if result.changed
                    else f"already at {result.after}"
                )
            )
            return 0
        current = await migrate.current_revision(db)
        head = migrate.head_revision()
        if action == "current":
            print(f"{redacted(url)}: at {current or 'empty (no schema yet)'}; newest is {head}")
            return 0
        if current != head:
            print(f"{redacted(url)}: at {current or 'empty'}, but this Tower expects {head}; run `tower db upgrade`")
            return 1
        drift = await migrate.differences(db)
        if drift:
            print(f"{redacted(url)}: the schema differs from what Tower expects:")
            for line in drift:
                print(f"  {line}")
            return 1
        print(f"{redacted(url)}: schema {head}, matches Tower's tables")
        return 0
    except DATABASE_PROBLEMS as err:
        print(f"tower: {database_problem(url, err)}", file=sys.stderr)
        return 2
    finally:
        await db.close()


if __name__ == "__main__":
    sys.exit(main())
