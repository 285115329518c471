"""Judging a simmer: is the deployment healthy, what day is it, how does the metric look. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Judgement:
    healthy: bool
    trouble: str | None
    best: float | None
    last_advance_at: datetime | None


def judge(
    expect: str,
    target: float | str | None,
    value: float | None,
    ok: bool,
    detail: str,
    *,
    best: float | None,
    last_advance_at: datetime,
    now: datetime,
    stall_minutes: int,
) -> Judgement:
    """One new reading against what came before."""
    if not ok:
        return Judgement(False, f"the health probe is failing ({detail})", best, last_advance_at)
    if expect == "advancing":
        if value is not None and (best is None or value > best):
            return Judgement(True, None, value, now)
        if now - last_advance_at >= timedelta(minutes=stall_minutes):
            return Judgement(
                False,
                f"the metric has not advanced for {_span(now - last_advance_at)} (stuck at {_number(best)})",
                best,
                last_advance_at,
            )
        return Judgement(True, None, best, last_advance_at)
    wanted = {
        "equals": lambda v, t: str(v) == str(t) or _num(v) == _num(t),
        "below": lambda v, t: _num(v) < _num(t),
        "above": lambda v, t: _num(v) > _num(t),
    }[expect]
    try:
        good = wanted(value if value is not None else detail, target)
    except (TypeError, ValueError):
        good = False
    if good:
        return Judgement(True, None, best, last_advance_at)
    return Judgement(
        False,
        f"the metric is {_number(value) if value is not None else detail}, expected {expect} {target}",
        best,
        last_advance_at,
    )


def _num(value: object) -> float:
    return float(value)  # type: ignore[arg-type]


def _number(value: float | None) -> str:
    if value is None:
        return "nothing"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def day_of(started_at: datetime, now: datetime, days: float, tz: str) -> tuple[int, int]:
    """(day k, of N), counted in calendar days of the project's time zone: the deploy day is day 0,
    the next day (and its morning report) day 1."""
    total = max(1, int(-(-days // 1)))
    zone = ZoneInfo(tz)
    elapsed = (now.astimezone(zone).date() - started_at.astimezone(zone).date()).days
    return max(0, min(total, elapsed)), total


def sparkline(values: list[float], width: int = 24) -> str:
    if not values:
        return ""
    step = max(1, len(values) // width)
    points = values[::step][-width:]
    low, high = min(points), max(points)
    if high == low:
        return BARS[3] * len(points)
    return "".join(BARS[int((v - low) / (high - low) * (len(BARS) - 1))] for v in points)


def trend(values: list[float]) -> str:
    if len(values) < 2:
        return _number(values[0]) if values else "no samples yet"
    return f"{_number(values[0])} → {_number(values[-1])} {sparkline(values)}"
