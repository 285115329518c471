"""The crew of each release, read and chosen: shared by /rotation, /page and the status card."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from commands.engine.settings import PersonSettings, ProjectSettings
from commands.rules.calendar_days import local_day
from commands.rules.rotation import Crew, Pick, acting_pilot, forecast, next_crew
from storage.queries import crew as stored
from storage.queries import directory
from storage.tables import Away, Release

OPTED_OUT = "opted out"


@dataclass
class CrewNow:
    pilot: str | None = None
    copilot: str | None = None
    jumpseats: list[str] = field(default_factory=list)
    proposed: dict[str, str] = field(default_factory=dict)  # role -> handle asked to take the seat
    away: dict[str, date] = field(default_factory=dict)  # crew members away today -> their last day away

    def note_away(self, away_today: Mapping[str, Away]) -> None:
        """Mark which of the pilot and co-pilot are away today (`away_on` of today)."""
        self.away = {h: away_today[h].last_day for h in (self.pilot, self.copilot) if h is not None and h in away_today}

    def has(self, handle: str) -> bool:
        return handle in (self.pilot, self.copilot)

    @property
    def acting(self) -> str | None:
        """Who flies now: the pilot, or the co-pilot filling in while the pilot is away."""
        return acting_pilot(self.pilot, self.copilot, self.away)

    def describe(self) -> str:
        """For the status card: `pilot tobby (away until 2026-11-25; jane acts as pilot), co-pilot jane`."""
        pilot = self.pilot or "—"
        if self.pilot in self.away:
            stand_in = f"; {self.acting} acts as pilot" if self.acting != self.pilot else ""
            pilot += f" (away until {self.away[self.pilot].isoformat()}{stand_in})"
        copilot = self.copilot or "—"
        if self.copilot in self.away:
            copilot += f" (away until {self.away[self.copilot].isoformat()})"
        text = f"pilot {pilot}, co-pilot {copilot}"
        text += "".join(f"; {who} asked to be {role}" for role, who in self.proposed.items())
        return text + (f"; jump seat: {', '.join(self.jumpseats)}" if self.jumpseats else "")


async def crew_of(session: AsyncSession, release_id: int) -> CrewNow:
    now = CrewNow()
    for seat, person in await stored.seats(session, release_id):
        if seat.state == stored.PROPOSED:
            now.proposed[seat.role] = person.handle
        elif seat.role == "jumpseat":
            now.jumpseats.append(person.handle)
        elif seat.role in ("pilot", "copilot"):
            setattr(now, seat.role, person.handle)
    return now


async def crew_today(session: AsyncSession, project: ProjectSettings, release_id: int, now: datetime) -> CrewNow:
    """The crew with who of them is away today (in the project's time zone), so who is acting is known."""
    crew = await crew_of(session, release_id)
    crew.note_away(await stored.away_on(session, local_day(now, project.timezone)))
    return crew


async def history_before(session: AsyncSession, project_id: int, number: int) -> list[Crew]:
    """The crews of the project's earlier releases, oldest first."""
    return [
        Crew(c["pilot"], c["copilot"])
        for rel, c in await stored.crews(session, project_id)
        if rel.number < number and "pilot" in c and "copilot" in c
    ]


async def roster_order(session: AsyncSession, project_id: int) -> list[str]:
    return [person.handle for _, person in await stored.roster(session, project_id)]


def away_reasons(away_today: Mapping[str, Away]) -> dict[str, str]:
    return {handle: f"away until {away.last_day.isoformat()}" for handle, away in away_today.items()}


async def unavailable(
    session: AsyncSession, project: ProjectSettings, release_id: int | None, now: datetime
) -> dict[str, str]:
    """Who cannot fly now, and why: away today (in the project's time zone) or opted out of it."""
    reasons = away_reasons(await stored.away_on(session, local_day(now, project.timezone)))
    if release_id is not None:
        for handle in await stored.people_who_left_seat(session, release_id, ("vacated", "declined")):
            reasons.setdefault(handle, "opted out of this release")
    return reasons


async def choose(
    session: AsyncSession, project: ProjectSettings, project_id: int, release: Release, now: datetime
) -> Pick:
    return next_crew(
        await history_before(session, project_id, release.number),
        await roster_order(session, project_id),
        await unavailable(session, project, release.id, now),
    )


async def forecast_after(
    session: AsyncSession, project: ProjectSettings, project_id: int, count: int, now: datetime
) -> list[Pick]:
    history = [
        Crew(c["pilot"], c["copilot"])
        for _, c in await stored.crews(session, project_id)
        if "pilot" in c and "copilot" in c
    ]
    return forecast(
        history, await roster_order(session, project_id), count, await unavailable(session, project, None, now)
    )


async def previous_pilot(session: AsyncSession, project_id: int, number: int) -> str | None:
    """The pilot of the release before, who (per the rotation) helps the current one."""
    earlier = [
        c.get("pilot") for rel, c in await stored.crews(session, project_id) if rel.number < number and c.get("pilot")
    ]
    return earlier[-1] if earlier else None


async def person_id(session: AsyncSession, handle: str) -> int:
    row = await directory.person_by_handle(session, handle)
    assert row is not None, f"{handle} is configured but was not synced"
    return row.id


def direct_channels(person: PersonSettings, project: ProjectSettings) -> list[str]:
    """Where a person is reached directly: a DM on each platform the project's team works on and the
    person has an id on (the demo's team works in the console, so it is a console DM there)."""
    platforms = {channel.partition(":")[0] for channel in project.channels.team}
    channels = [f"slack-dm:{person.slack}"] if person.slack and "slack" in platforms else []
    channels += [f"discord-dm:{person.discord}"] if person.discord and "discord" in platforms else []
    return channels or [f"console-dm:{person.handle}"]
