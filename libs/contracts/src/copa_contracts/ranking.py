"""Events of the `ranking` service: start lists, race results, standings, judges, protests.

`ranking` is the brain (ARCHITECTURE.md); what it publishes are snapshots, not deltas: every
start list, result or standings event carries the whole list with a ``revision`` number, so a
consumer simply replaces what it had when the revision is newer. Redelivery, a missed event or
a replay after a crash then cannot leave a consumer half-updated.

Results name runners by ``participant_id`` / ``relay_team_id`` and BIB only: names live with
`registration`'s participant events, and e-mails never travel with results (RULES §10).
"""

from __future__ import annotations

import uuid
from typing import Annotated, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from copa_contracts.common import (
    ActorId,
    Bib,
    CategoryCode,
    ChipId,
    Contact,
    DistanceCode,
    EditionCode,
    Gender,
    Microseconds,
    RaceGender,
    ResultStatus,
    TimeSource,
    UtcDatetime,
)
from copa_contracts.envelope import Event

RoundKind = Literal["heat", "final", "timed_final"]
"""What a race decides (reg 11.3):

* ``heat``: round 1 of a group that has a final; the fastest by time go through
  (100 m with N > 12, 1000 m with N > 25);
* ``final``: the final, including a group small enough for one race (N <= 8 / N <= 25);
* ``timed_final``: one round of one or more races, places by time across all of them
  (100 m with 9-12 runners, reg 11.3.6; 3000 m, 11.3.4; the relay, RULES §8).
"""

RuleReference = Annotated[str, StringConstraints(min_length=1, max_length=32)]
"""A clause of the regulations or a WA rule, written as shown after DQ: `7.12`, `TR16.8`."""

PublicationStatus = Literal["provisional", "official"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _one_competitor(participant_id: uuid.UUID | None, relay_team_id: uuid.UUID | None) -> None:
    if (participant_id is None) == (relay_team_id is None):
        raise ValueError("exactly one of participant_id and relay_team_id must be set")


class RaceEvent(Event):
    """Fields every race event carries (not an event itself): which race of which group."""

    race_id: uuid.UUID = Field(description="Race id, owned by ranking; the partition key.")
    edition: EditionCode = Field(description="Edition the race belongs to.")
    distance: DistanceCode = Field(description="Distance of the race group (reg 4.1).")
    gender: RaceGender = Field(description="Gender of the race group; `X` for the relay.")
    age_category: CategoryCode = Field(
        description="Age category of the race group (reg 4.2.1-4.2.3); `open` for the relay."
    )
    round: RoundKind = Field(description="What the race decides (reg 11.3).")
    heat_number: int = Field(ge=1, description="Number of the race within its round, 1 first.")
    revision: int = Field(ge=1, description="Grows with every publication; newest wins.")


class StartListEntry(_Frozen):
    """One runner (or relay team) on a start list."""

    position: int = Field(ge=1, description="Order on the list (the draw's order).")
    lane: int | None = Field(ge=1, description="Lane, for races run in lanes (100 m).")
    participant_id: uuid.UUID | None = Field(description="Runner, for an individual race.")
    relay_team_id: uuid.UUID | None = Field(description="Team, for a relay race.")
    bib: Bib = Field(description="BIB worn.")
    seed_time_us: Microseconds | None = Field(
        default=None,
        description="Time the entry was seeded or qualified by (round-1 time for a final).",
    )

    @model_validator(mode="after")
    def _exactly_one_competitor(self) -> Self:
        _one_competitor(self.participant_id, self.relay_team_id)
        return self


class StartListPublished(RaceEvent):
    """A race's start list (heat draw, lanes, start time) was published or revised (reg 11.3).

    Round-1 draws are random with a recorded seed, or serpentine by seed time (RULES §5), so
    that the draw is reproducible and auditable; final lanes follow the edition's lane table.
    Starting outside one's own race is a DQ (reg 11.3.5): the list is what judges check against.
    """

    event_type: ClassVar[str] = "start-list.published"

    race_number: int = Field(ge=1, description="Number of the race in the day's programme.")
    races_in_round: int = Field(ge=1, description="How many races the round has.")
    scheduled_start_at: UtcDatetime = Field(description="Planned start (shown in local time).")
    seeding: Literal["random_draw", "serpentine", "by_round_1_time"] = Field(
        description="How places were assigned: draw by lot, serpentine by seed time, or the "
        "final's ranking by round-1 time with lanes by the lane table."
    )
    draw_seed: str | None = Field(
        max_length=128, description="Seed of the random draw, to reproduce it (RULES §5)."
    )
    entries: tuple[StartListEntry, ...] = Field(description="Entries in list order.")


class RaceResultEntry(_Frozen):
    """One line of a race result (reg 11.4 display: place, BIB, times, status)."""

    place: int | None = Field(
        ge=1, description="Place in the race; equal raw times share one (1, 2, 2, 4)."
    )
    participant_id: uuid.UUID | None = Field(description="Runner, for an individual race.")
    relay_team_id: uuid.UUID | None = Field(description="Team, for a relay race.")
    bib: Bib = Field(description="BIB worn.")
    lane: int | None = Field(default=None, ge=1, description="Lane, for races run in lanes.")
    status: ResultStatus = Field(description="OK, DNS, DNF or DQ (reg 11.4).")
    dq_rule: RuleReference | None = Field(
        default=None, description="Rule of a DQ, shown as `DQ 7.12` (required for DQ)."
    )
    gun_time_us: Microseconds | None = Field(
        description="Raw gun time (reg 11.4: official; from the start signal)."
    )
    official_time_us: Microseconds | None = Field(
        description="Gun time rounded up to the edition's resolution (1/100 s): what is shown."
    )
    net_time_us: Microseconds | None = Field(
        default=None, description="Chip time from the runner's own start crossing (information)."
    )
    time_source: TimeSource | None = Field(description="Where the finish time came from.")
    qualified: bool = Field(
        default=False, description="Goes through to the final by time (shown as `q`)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _one_competitor(self.participant_id, self.relay_team_id)
        if (self.status == "OK") != (self.place is not None):
            raise ValueError("a finisher has a place and only a finisher has one")
        if (self.status == "DQ") != (self.dq_rule is not None):
            raise ValueError("a DQ carries its rule, and only a DQ does (reg 11.4)")
        return self


class RaceResultsEvent(RaceEvent):
    """Fields of every race-results event (not an event itself)."""

    started_at: UtcDatetime | None = Field(
        description="Start signal the gun times count from; none if the race never started."
    )
    entries: tuple[RaceResultEntry, ...] = Field(
        description="Finishers in place order, then DNF, DQ, DNS (reg 11.4)."
    )


class RaceResultsProvisional(RaceResultsEvent):
    """Results computed from timing, not yet confirmed by the chief judge (reg 11.1, 15.2).

    Published within seconds of the finish and again after every judge's change.
    """

    event_type: ClassVar[str] = "race-results.provisional"


class RaceResultsOfficial(RaceResultsEvent):
    """The chief judge confirmed the race: its results are official (reg 11.1, 11.3.7)."""

    event_type: ClassVar[str] = "race-results.official"

    confirmed_by: ActorId = Field(description="Chief judge who confirmed.")
    confirmed_at: UtcDatetime = Field(description="When the race became official.")


class RaceResultsCorrected(RaceResultsEvent):
    """Official results were changed, e.g. by an upheld protest (reg 17), and published again."""

    event_type: ClassVar[str] = "race-results.corrected"

    reason: str = Field(min_length=1, max_length=2000, description="Why the results changed.")
    protest_id: uuid.UUID | None = Field(description="Protest that caused it, if any.")
    corrected_by: ActorId = Field(description="Who made the correction.")
    corrected_at: UtcDatetime = Field(description="When.")


class StandingsEntry(_Frozen):
    """One runner's line in a standings table."""

    place: int | None = Field(ge=1, description="Place by gun time; shared on equal raw times.")
    participant_id: uuid.UUID = Field(description="Runner.")
    bib: Bib = Field(description="BIB worn.")
    age_category: CategoryCode = Field(description="Runner's category.")
    status: ResultStatus = Field(description="OK, DNS, DNF or DQ.")
    dq_rule: RuleReference | None = Field(default=None, description="Rule of a DQ.")
    gun_time_us: Microseconds | None = Field(description="Raw gun time the place comes from.")
    official_time_us: Microseconds | None = Field(description="Gun time as shown.")
    race_id: uuid.UUID | None = Field(description="Race the time was set in.")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.status == "OK") != (self.place is not None):
            raise ValueError("a finisher has a place and only a finisher has one")
        if (self.status == "DQ") != (self.dq_rule is not None):
            raise ValueError("a DQ carries its rule, and only a DQ does (reg 11.4)")
        return self


class StandingsUpdated(Event):
    """Final places of a distance and gender, per category or across all categories.

    Per category: the prize-winners are the top 3 (reg 11.1, 11.2, 11.3.4). Across categories
    (``age_category`` none): the places the team classification sums (reg 4.2.4), with
    ``entrants_count`` for the DNS/DNF/DQ penalty (entrants plus 2).
    """

    event_type: ClassVar[str] = "standings.updated"

    standings_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]+/[a-z0-9-]+/[MFX]/[^/]+$",
        max_length=128,
        description="`<edition>/<distance>/<gender>/<category or all>`; the partition key.",
    )
    edition: EditionCode = Field(description="Edition.")
    distance: DistanceCode = Field(description="Distance.")
    gender: Gender = Field(description="Gender.")
    age_category: CategoryCode | None = Field(
        description="Category; none for the standings of all categories (reg 4.2.4)."
    )
    status: PublicationStatus = Field(
        description="`official` once every race of the group is official (reg 11.3.7)."
    )
    revision: int = Field(ge=1, description="Grows with every publication; newest wins.")
    entrants_count: int = Field(
        ge=0, description="Participants of these standings, starters and non-starters."
    )
    entries: tuple[StandingsEntry, ...] = Field(
        description="Finishers in place order, then DNF, DQ, DNS."
    )


def standings_id(edition: str, distance: str, gender: str, age_category: str | None) -> str:
    """The key of a standings table; ``None`` category means all categories of the gender."""
    return f"{edition}/{distance}/{gender}/{age_category or 'all'}"


# --- judges' exceptions (reg 11.3.8, 15.2) ------------------------------------------------------

ExceptionKind = Literal[
    "unknown_chip",
    "chip_not_in_race",
    "read_outside_race_window",
    "too_few_crossings",
    "no_finish_time",
    "photo_finish_unmatched",
    "start_missing",
]


class JudgesExceptionRaised(Event):
    """Something the engine will not decide alone was put in front of the judges.

    Nothing is silently dropped (reg 11.3.8): a read of a chip not paired to a BIB in the
    race, a read outside every race window, too few crossings for the distance, a runner
    without a finish time, a photo-finish line with an unknown BIB, a race without a start.
    """

    event_type: ClassVar[str] = "judges-exception.raised"

    exception_id: uuid.UUID = Field(description="Id of the exception; the partition key.")
    kind: ExceptionKind = Field(description="What kind of doubt it is.")
    race_id: uuid.UUID | None = Field(description="Race concerned, if one is known.")
    chip: ChipId | None = Field(default=None, description="Chip concerned, if any.")
    bib: Bib | None = Field(default=None, description="BIB concerned, if known.")
    participant_id: uuid.UUID | None = Field(default=None, description="Runner, if known.")
    source_event_id: uuid.UUID | None = Field(
        default=None, description="Event (read, start, file) that raised it."
    )
    detail: str = Field(max_length=2000, description="What the engine saw, for the judge.")
    raised_at: UtcDatetime = Field(description="When it was raised.")


class JudgesExceptionResolved(Event):
    """A judge dealt with an exception; the change it led to is in the race's results."""

    event_type: ClassVar[str] = "judges-exception.resolved"

    exception_id: uuid.UUID = Field(description="Exception resolved; the partition key.")
    race_id: uuid.UUID | None = Field(description="Race concerned, if any.")
    resolution: Literal["assigned", "manual_time", "status_set", "dismissed"] = Field(
        description="Read assigned to a runner, manual time entered, DNS/DNF/DQ set, or "
        "dismissed as noise."
    )
    note: str = Field(max_length=2000, description="Why, as the judge wrote it.")
    resolved_by: ActorId = Field(description="Judge.")
    resolved_at: UtcDatetime = Field(description="When.")


# --- protests (reg 17) --------------------------------------------------------------------------


class ProtestReceived(Event):
    """A participant's protest was received (reg 17.1-17.2); the answer is due in 24 h (17.3).

    ``contact`` is the e-mail the protest was filed from: the answer goes there (reg 17.3).
    """

    event_type: ClassVar[str] = "protest.received"

    protest_id: uuid.UUID = Field(description="Protest id; the partition key.")
    edition: EditionCode = Field(description="Edition.")
    participant_id: uuid.UUID = Field(description="Participant protesting (reg 17.4).")
    race_id: uuid.UUID | None = Field(description="Race concerned, if one is named.")
    claim: str = Field(min_length=1, max_length=5000, description="What is claimed (reg 17.2).")
    evidence_url: str | None = Field(
        max_length=2000, description="Photo or video link the claim rests on (reg 17.2)."
    )
    received_at: UtcDatetime = Field(description="When it was received.")
    answer_due_at: UtcDatetime = Field(description="Deadline of the answer (reg 17.3: 24 h).")
    contact: Contact = Field(description="Where the answer goes (reg 17.3).")


class ProtestAnswered(Event):
    """The organizers answered a protest (reg 17.3); an upheld one is followed by corrections."""

    event_type: ClassVar[str] = "protest.answered"

    protest_id: uuid.UUID = Field(description="Protest answered; the partition key.")
    participant_id: uuid.UUID = Field(description="Participant who protested.")
    decision: Literal["upheld", "rejected", "not_considered"] = Field(
        description="Upheld, rejected, or not considered (anonymous, late or not from a "
        "participant: reg 17.2, 17.4)."
    )
    answer: str = Field(min_length=1, max_length=5000, description="Official reply (reg 17.3).")
    answered_by: ActorId = Field(description="Who answered.")
    answered_at: UtcDatetime = Field(description="When.")
    within_deadline: bool = Field(description="Answered within 24 h of receipt (reg 17.3).")
    contact: Contact = Field(description="Where the answer goes (reg 17.3).")


START_LIST_EVENTS: tuple[type[Event], ...] = (StartListPublished,)
RESULT_EVENTS: tuple[type[Event], ...] = (
    RaceResultsProvisional,
    RaceResultsOfficial,
    RaceResultsCorrected,
)
STANDINGS_EVENTS: tuple[type[Event], ...] = (StandingsUpdated,)
JUDGES_EXCEPTION_EVENTS: tuple[type[Event], ...] = (
    JudgesExceptionRaised,
    JudgesExceptionResolved,
)
PROTEST_EVENTS: tuple[type[Event], ...] = (ProtestReceived, ProtestAnswered)

__all__ = [
    "JUDGES_EXCEPTION_EVENTS",
    "PROTEST_EVENTS",
    "RESULT_EVENTS",
    "STANDINGS_EVENTS",
    "START_LIST_EVENTS",
    "ExceptionKind",
    "JudgesExceptionRaised",
    "JudgesExceptionResolved",
    "ProtestAnswered",
    "ProtestReceived",
    "PublicationStatus",
    "RaceEvent",
    "RaceResultEntry",
    "RaceResultsCorrected",
    "RaceResultsEvent",
    "RaceResultsOfficial",
    "RaceResultsProvisional",
    "RoundKind",
    "StandingsEntry",
    "StandingsUpdated",
    "StartListEntry",
    "StartListPublished",
    "standings_id",
]
