"""Days: blackout days, milestone names, countdowns and reminder times. Pure."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from commands.rules.wording import plural

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MILESTONE = re.compile(r"^(boot|rc[1-9]\d{0,2}|final)$")


def blackout(day: date, weekdays: Sequence[str], dates: Sequence[date]) -> str | None:
    """Why `day` is a blackout day, or None."""
    if day in dates:
        return f"{day.isoformat()} is a blackout date"
    name = WEEKDAYS[day.weekday()]
    if name in weekdays:
        return f"no releases on a {name.capitalize()}"
    return None


def next_allowed(day: date, weekdays: Sequence[str], dates: Sequence[date], weekend: Sequence[str] = ()) -> date:
    """The next day after `day` that is neither a blackout day nor a weekend day: Friday's release is
    held back so breakage does not land on the weekend, so suggesting Saturday would defeat it."""
    for offset in range(1, 400):
        candidate = day + timedelta(days=offset)
        if blackout(candidate, weekdays, dates) is None and WEEKDAYS[candidate.weekday()] not in weekend:
            return candidate
    raise ValueError("every day of the coming year is a blackout or weekend day")


def blackout_gate(day: date, weekdays: Sequence[str], dates: Sequence[date], weekend: Sequence[str]) -> str | None:
    """Why nothing ships or deploys on `day`, and the next working day it may; None on an allowed day."""
    why = blackout(day, weekdays, dates)
    if why is None:
        return None
    allowed = next_allowed(day, weekdays, dates, weekend)
    passed = [WEEKDAYS[(day + timedelta(days=n)).weekday()] for n in range(1, (allowed - day).days)]
    skipped = [name.capitalize() for name in dict.fromkeys(passed) if name in weekend]
    verb = "is" if len(skipped) == 1 else "are"
    reason = f" ({' and '.join(skipped)} {verb} the weekend, when breakage would wait for people)" if skipped else ""
    return f"today is a blackout day ({why}); the next working day is {allowed:%A %Y-%m-%d}{reason}"


def valid_milestone(name: str) -> bool:
    return bool(_MILESTONE.match(name))


def milestone_order(name: str) -> tuple[int, int]:
    """boot, rc1, rc2, …, final."""
    if name == "boot":
        return (0, 0)
    if name == "final":
        return (2, 0)
    return (1, int(name[2:]))


def countdown(milestones: list[tuple[str, date]], today: date, met: Collection[str] = ()) -> str | None:
    """ "rc1: 3 days late, rc2 in 3 days, final in 24 days" — milestones not met yet: late ones first
    (until their candidate is cut or they are planned again), then the coming ones, soonest first."""
    waiting = sorted((due, milestone_order(name), name) for name, due in milestones if name not in met)
    if not waiting:
        return None
    parts = []
    for due, _, name in waiting:
        days = (due - today).days
        if days < 0:
            parts.append(f"{name}: {plural(-days, 'day')} late")
        elif days == 0:
            parts.append(f"{name} today")
        else:
            parts.append(f"{name} tomorrow" if days == 1 else f"{name} in {days} days")
    return ", ".join(parts)


def local_moment(day: date, at: str, tz: str) -> datetime:
    """`at` (HH:MM) on `day` in the time zone, as an aware time: right across daylight-saving changes."""
    hours, minutes = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=ZoneInfo(tz))


def local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()
