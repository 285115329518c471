"""Days: blackout days, milestone names, countdowns and reminder times. Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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


def next_allowed(day: date, weekdays: Sequence[str], dates: Sequence[date]) -> date:
    for offset in range(1, 400):
        candidate = day + timedelta(days=offset)
        if blackout(candidate, weekdays, dates) is None:
            return candidate
    raise ValueError("every day of the coming year is a blackout day")


def valid_milestone(name: str) -> bool:
    return bool(_MILESTONE.match(name))


def milestone_order(name: str) -> tuple[int, int]:
    """boot, rc1, rc2, …, final."""
    if name == "boot":
        return (0, 0)
    if name == "final":
        return (2, 0)
    return (1, int(name[2:]))


def countdown(milestones: list[tuple[str, date]], today: date) -> str | None:
    """ "rc2 in 3 days, final in 24 days" — the coming milestones, soonest first."""
    coming = sorted((due, name) for name, due in milestones if due >= today)
    if not coming:
        return None
    parts = []
    for due, name in coming:
        days = (due - today).days
        parts.append(f"{name} today" if days == 0 else f"{name} tomorrow" if days == 1 else f"{name} in {days} days")
    return ", ".join(parts)


def local_moment(day: date, at: str, tz: str) -> datetime:
    """`at` (HH:MM) on `day` in the time zone, as an aware time: right across daylight-saving changes."""
    hours, minutes = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=ZoneInfo(tz))


def local_day(moment: datetime, tz: str) -> date:
    return moment.astimezone(ZoneInfo(tz)).date()
