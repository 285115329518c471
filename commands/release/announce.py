"""Announcements to the community: every announce channel on every platform and the announce
webhooks, from the project's template; posted exactly once (the outbox key), at once or `--at`
a time; their message ids are kept, so a correction edits the same posts."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands.engine import audit, lookup, outbox
from commands.engine.context import Invocation
from commands.engine.errors import Conflict, NotFound, UsageError
from commands.engine.links import page_url
from commands.engine.reply import Reply, reply_from_dict, reply_to_dict
from commands.engine.roles import PILOT_OR_MANAGER
from commands.engine.services import Services
from commands.engine.settings import ProjectSettings
from commands.engine.spec import CommandSpec, Kind, Option
from storage import locks
from storage.queries import candidates, deploys
from storage.queries import outbox as queued
from storage.tables import Release

JUST_ANNOUNCED = timedelta(minutes=2)  # as for `/rc cut`: an announcement this soon again is the same request twice
_ITEM = re.compile(r"^[-*+]\s+(.*)$")  # a list item; `**bold**` at the start of a line is not one


def channels_of(project: ProjectSettings) -> list[str]:
    return [
        *project.channels.announce,
        *(f"announce-webhook:{project.key}:{i}" for i in range(len(project.announce_webhooks))),
    ]


def render(svc: Services, project: ProjectSettings, release: Release, notes: str) -> str:
    first = first_item(notes)
    values = {
        "project": project.display,
        "version": release.version or "",
        "notes": notes.strip(),
        "notes_first_line": first,
        "notes_url": page_url(svc.settings.tower.public_url, project.key, release) or "(see the changelog)",
        "tag": f"{project.tag_prefix}{release.version}",
    }
    try:
        return project.announcement.format(**values).strip()
    except (KeyError, IndexError, ValueError) as err:
        raise UsageError(
            f"The announcement template of {project.key} does not fill in ({err}).",
            f"It may use: {', '.join('{' + k + '}' for k in values)}.",
        ) from None


def first_item(notes: str) -> str:
    """The first list item of the notes, its Markdown kept (`**BREAKING**: …` stays bold): only the
    list marker goes."""
    return next((m.group(1).strip() for line in notes.splitlines() if (m := _ITEM.match(line.strip()))), "")


async def queue(
    session,
    svc: Services,
    project: ProjectSettings,
    release: Release,
    *,
    channels: list[str],
    at: datetime | None,
    created_by_id: int | None,
    now: datetime,
) -> tuple[int, str]:
    """Record an announcement and queue it on every channel. Returns its id and text."""
    cut = await candidates.of_release(session, release.id, states=("cut",))
    live = await deploys.of_release(session, release.id, states=deploys.UP)
    source = next((c for c in cut if live and c.id == live[-1].candidate_id), cut[-1] if cut else None)
    notes = _notes(source.notes, source.tag) if source else ""
    text = render(svc, project, release, notes)
    record = await deploys.add_announcement(
        session,
        release_id=release.id,
        text=text,
        channels=",".join(channels),
        post_at=at or now,
        created_at=now,
        created_by_id=created_by_id,
    )
    reply = Reply(text=text, meta={"announcement": record.id, "project": project.key, "version": release.version})
    await outbox.post_many(session, channels, reply, key=f"announce:{record.id}", now=now, at=at)
    return record.id, text


def _notes(annotation: str | None, tag: str) -> str:
    if not annotation:
        return ""
    parts = annotation.split("\n\n", 2)
    return parts[2].strip() if len(parts) == 3 and parts[0] == tag else annotation.strip()


def parse_when(text: str, tz: str, now: datetime) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace(" ", "T") if "T" not in text else text)
    except ValueError:
        raise UsageError(
            f"`{text}` is not a time.", "Write it as `YYYY-MM-DD HH:MM` (the project's local time)."
        ) from None
    if not now.year - 1 <= when.year <= now.year + 1:  # far out, a time zone's offset overflows the calendar
        raise UsageError(f"`{text}` is too far from now.", "Announce at most a year ahead, or leave out `--at`.")
    when = when if when.tzinfo else when.replace(tzinfo=ZoneInfo(tz))
    if when <= now:
        raise UsageError(f"{when:%Y-%m-%d %H:%M %Z} has passed.", "Leave out `--at` to announce now.")
    return when


async def announce(inv: Invocation, svc: Services) -> Reply:
    ref, now = inv.args["release"], svc.clock.now()
    project = ref.project
    if inv.args.get("correct"):
        return await _correct(inv, svc)
    at = parse_when(inv.args["at"], project.timezone, now) if inv.args.get("at") else None
    targets = list(inv.args.get("to") or channels_of(project))
    if not targets:
        raise UsageError(
            f"{project.key} has no announce channels.", "Add `channels.announce` in tower.toml, or use `--to`."
        )
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        if not rel.version:
            raise UsageError(f"{lookup.name(proj.key, rel)} has no version to announce yet.")
        await locks.hold_for_transaction(session, f"announce:{rel.id}")  # SQLite: the write runs alone already
        if not inv.args.get("again"):
            await _refuse_a_twin(session, rel, targets, now)
        number, text = await queue(
            session,
            svc,
            project,
            rel,
            channels=targets,
            at=at,
            created_by_id=await audit.actor_id(session, inv),
            now=now,
        )
        await audit.record(
            session,
            inv,
            "announce",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"#{number} to {', '.join(targets)}" + (f" at {at.isoformat()}" if at else ""),
        )
    when = f"at {at.astimezone(ZoneInfo(project.timezone)):%Y-%m-%d %H:%M %Z}" if at else "now"
    return Reply(
        text=f"Announcement #{number} goes to {len(targets)} channel{'s' if len(targets) != 1 else ''} {when}.",
        sections=[text],
    )


async def _refuse_a_twin(session, release: Release, targets: list[str], now: datetime) -> None:
    """The same request twice (a double click, two people, Slack and Discord at once): an
    announcement of this release to any of these channels made moments ago."""
    for made in reversed(await deploys.announcements(session, release.id)):
        shared = [c for c in made.channels.split(",") if c in targets]
        seconds = int((now - made.created_at).total_seconds())
        if shared and seconds < JUST_ANNOUNCED.total_seconds():
            raise Conflict(
                f"Announcement #{made.id} of {release.version} went to {', '.join(shared)} {seconds}s ago, so this "
                "looks like the same request twice; nothing was changed.",
                "To announce it again, add --again.",
            )


async def _correct(inv: Invocation, svc: Services) -> Reply:
    ref, now, text = inv.args["release"], svc.clock.now(), inv.args["correct"]
    async with svc.db.write() as session:
        proj, rel = await lookup.release(session, ref)
        made = await deploys.announcements(session, rel.id)
        if not made:
            raise NotFound(f"{lookup.name(proj.key, rel)} has not been announced.", "`/announce` it first.")
        last = made[-1]
        last.corrections += 1
        last.text = text  # what the feed and the pages show
        rewritten = edited = 0
        for row in await queued.with_key_prefix(session, f"announce:{last.id}@"):
            reply = reply_from_dict(json.loads(row.payload))
            reply.text = text
            if row.state == "pending":
                rewritten += await queued.rewrite(session, row.id, json.dumps(reply_to_dict(reply), ensure_ascii=False))
            elif row.state == "sent":
                reply.meta["edit"] = row.platform_message_id
                edited += await outbox.post(
                    session, row.channel, reply, key=f"announce:{last.id}:correction:{last.corrections}", now=now
                )
        await audit.record(
            session,
            inv,
            "announce.correct",
            now,
            project_id=proj.id,
            release_id=rel.id,
            detail=f"#{last.id}: {text[:200]}",
        )
    return Reply(text=f"Corrected announcement #{last.id}: {edited} posts edited, {rewritten} not yet sent rewritten.")


COMMANDS = [
    CommandSpec(
        group=None,
        name="announce",
        summary="post the release announcement to the community channels, now or later",
        example='/announce demo --at "2026-12-01 10:00"',
        handler=announce,
        mutates=True,
        allowed=PILOT_OR_MANAGER,
        details="The text comes from the project's `announcement` template with the release notes. "
        "`--correct TEXT` edits the posts of the latest announcement in place.",
        options=(
            Option("release", Kind.RELEASE, "the release", positional=True, required=True),
            Option("at", Kind.TEXT, "when, in the project's local time: YYYY-MM-DD HH:MM"),
            Option("to", Kind.LIST, "channels instead of the project's announce channels (slack:C…, discord:…)"),
            Option("correct", Kind.TEXT, "the corrected text of the latest announcement", max_length=3000),
            Option("again", Kind.FLAG, "announce even though it went to the same channels minutes ago"),
        ),
    ),
]
