"""Events of the `teams` service: team classifications (reg 4.2.4) and the relay prize list.

Like `ranking`, `teams` publishes whole tables with a ``revision``: a consumer replaces what it
had. Both kinds are keyed by ``classification`` (`sprint`, `medium`, `relay`): one table's
updates stay in order and there are only a handful of tables.
"""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from copa_contracts.common import (
    Bib,
    DistanceCode,
    EditionCode,
    Gender,
    Kzt,
    Microseconds,
    ResultStatus,
)
from copa_contracts.envelope import Event
from copa_contracts.ranking import PublicationStatus


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TeamEntryScore(_Frozen):
    """What one entry of a team application scored (reg 4.2.4)."""

    participant_id: uuid.UUID | None = Field(
        description="Runner, once the entry's BIB is matched to a participant."
    )
    bib: Bib = Field(description="BIB declared in the team application.")
    distance: DistanceCode = Field(description="Declared distance.")
    gender: Gender = Field(description="Gender: a team scores 5 men's and 5 women's results.")
    place: int | None = Field(
        ge=1, description="Place among all runners of the gender in the distance's standings."
    )
    status: ResultStatus = Field(description="OK, DNS, DNF or DQ.")
    points: int = Field(
        ge=0, description="The place, or entrants of those standings plus 2 for DNS/DNF/DQ."
    )
    penalty: bool = Field(description="Points are the DNS/DNF/DQ penalty (reg 4.2.4).")


class TeamStanding(_Frozen):
    """One team's line in a classification."""

    place: int | None = Field(ge=1, description="Place; lowest points first.")
    team_id: uuid.UUID = Field(description="Team application id (owned by teams).")
    team_name: str = Field(min_length=1, max_length=200, description="Public team name.")
    points: int = Field(ge=0, description="Sum of the entries' points (reg 4.2.4).")
    last_scorer_place: int | None = Field(
        description="Place of the team's last scoring member: the tie-break, as WA cross-country "
        "team scoring (RULES §7; the regulations are silent)."
    )
    entries: tuple[TeamEntryScore, ...] = Field(description="The 10 entries and their points.")
    tie_break: str | None = Field(
        default=None,
        max_length=1000,
        description="Why the team is placed as it is among teams level on points (RULES §7); "
        "none when no team has the same points.",
    )


class TeamStandingsUpdated(Event):
    """A team classification's table was (re)computed (reg 4.2.4: lowest total wins)."""

    event_type: ClassVar[str] = "team-standings.updated"

    classification: str = Field(
        pattern=r"^[a-z0-9-]+$",
        max_length=32,
        description="Classification code from the edition config (`sprint`, `medium`); "
        "the partition key.",
    )
    edition: EditionCode = Field(description="Edition.")
    status: PublicationStatus = Field(
        description="`official` once every standings it sums is official."
    )
    revision: int = Field(ge=1, description="Grows with every publication; newest wins.")
    standings: tuple[TeamStanding, ...] = Field(description="Teams in place order.")


class RelayStanding(_Frozen):
    """One relay team's line: place across all relay races by time, and its prize (RULES §8)."""

    place: int | None = Field(ge=1, description="Place across all races by gun time.")
    relay_team_id: uuid.UUID = Field(description="Team.")
    team_name: str = Field(min_length=1, max_length=100, description="Public team name.")
    bib: Bib = Field(description="Team BIB.")
    status: ResultStatus = Field(description="A breach by one member disqualifies the team.")
    official_time_us: Microseconds | None = Field(
        description="Gun time at the last leg runner's finish crossing, as shown."
    )
    prize_kzt: Kzt = Field(description="Prize money for the place (news: 200,000/150,000/100,000).")

    @model_validator(mode="after")
    def _place_iff_finished(self) -> Self:
        if (self.status == "OK") != (self.place is not None):
            raise ValueError("a finisher has a place and only a finisher has one")
        return self


class RelayStandingsUpdated(Event):
    """The relay's standings and prize list (RULES §8: `teams` owns the prize list)."""

    event_type: ClassVar[str] = "relay-standings.updated"

    classification: Literal["relay"] = Field(
        default="relay", description="Always `relay`; the partition key."
    )
    edition: EditionCode = Field(description="Edition.")
    status: PublicationStatus = Field(
        description="`official` once every relay race is official: the prize list is final."
    )
    revision: int = Field(ge=1, description="Grows with every publication; newest wins.")
    standings: tuple[RelayStanding, ...] = Field(description="Teams in place order.")


TEAM_STANDINGS_EVENTS: tuple[type[Event], ...] = (TeamStandingsUpdated, RelayStandingsUpdated)

__all__ = [
    "TEAM_STANDINGS_EVENTS",
    "RelayStanding",
    "RelayStandingsUpdated",
    "TeamEntryScore",
    "TeamStanding",
    "TeamStandingsUpdated",
]
