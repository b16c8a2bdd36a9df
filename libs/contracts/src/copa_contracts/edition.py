"""The edition's configuration: every number the rules leave to the organizers, in one place.

RULES.md: the values marked **default** there "must live in the edition's configuration file,
not in code". This module is the schema of that file (`editions/<edition>.toml`) and its
defaults are the 2024 values of RULES.md §1-§9, each field naming its clause; values marked
"our default" are not in RULES.md and were chosen here (schedule slots, rest, timing windows).
A test keeps `editions/2024.toml` and these defaults equal, so neither can drift.

Times of day and local datetimes are wall-clock times in the edition's ``time_zone`` (naive
on purpose: RULES §1 states them locally; :meth:`Edition.to_utc` turns them into instants with
`zoneinfo`, which knows that Kazakhstan moved to UTC+5 on 2024-03-01).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterable
from itertools import pairwise
from pathlib import Path
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, NaiveDatetime, field_validator, model_validator

from copa_contracts.common import CategoryCode, DistanceCode, EditionCode, Gender, Kzt, Microseconds

EDITIONS_DIR_ENV = "COPA_EDITIONS_DIR"

LANE_DRAW_WA_2023: tuple[tuple[int, ...], ...] = ((3, 4, 5, 6), (2, 7), (1, 8))
"""Final lanes by WA rules in force since 2023: the best 4 draw lots for lanes 3-6, the 5th and
6th for 2 and 7, the 7th and 8th for 1 and 8 (RULES §5)."""

LANE_DRAW_BEFORE_2023: tuple[tuple[int, ...], ...] = ((3, 4, 5, 6), (7, 8), (1, 2))
"""The older table, kept as a config option (RULES §5): 3-6, then 7-8, then 1-2."""

SECOND_US = 1_000_000
MINUTE_US = 60 * SECOND_US


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Venue(_Config):
    """Where the competition is run (reg 3.2)."""

    name: str = Field(default="Central Stadium", min_length=1, description="reg 3.2: venue.")
    address: str = Field(
        default="48 Abay Ave, Almaty", min_length=1, description="reg 3.2: start and finish."
    )
    track_length_m: int = Field(
        default=400, gt=0, description="RULES §6: lap length of the track (400 m)."
    )


class RegistrationRules(_Config):
    """Registration, payment and changes (reg 7, RULES §3)."""

    opens_at_local: NaiveDatetime = Field(
        default=dt.datetime(2024, 1, 15, 0, 0, 0), description="reg 7.1: registration opens."
    )
    closes_at_local: NaiveDatetime = Field(
        default=dt.datetime(2024, 3, 3, 23, 59, 59),
        description="reg 7.1: registration closes (inclusive).",
    )
    capacity: int = Field(default=700, ge=1, description="reg 7.1: paid participants in all.")
    hold_minutes: int = Field(
        default=30, ge=1, description="RULES §3 default: an unpaid application holds its slot."
    )
    distance_change_until: dt.date = Field(
        default=dt.date(2024, 3, 3),
        description="reg 7.6: last day of distance changes (inclusive).",
    )
    change_fee_kzt: Kzt = Field(default=1_000, description="reg 7.6: fee for a distance change.")
    qualification_lookback_years: int = Field(
        default=3, ge=1, description="reg 4.2.3: qualifying results from the last 3 years."
    )
    corporate_min_participants: int = Field(
        default=31, ge=1, description="reg 7.2: a corporate batch has more than 30 participants."
    )
    free_slots: int = Field(
        default=20, ge=0, description="reg 7.13, RULES §3 default: free slots for disabilities."
    )
    free_slot_applications_before: dt.date = Field(
        default=dt.date(2024, 3, 1), description="reg 7.13: free-slot applications before this day."
    )
    ban_editions: int = Field(
        default=3, ge=1, description="reg 7.11: editions a BIB transfer bans a person from."
    )

    @model_validator(mode="after")
    def _window_is_ordered(self) -> Self:
        if self.opens_at_local >= self.closes_at_local:
            raise ValueError("registration must open before it closes (reg 7.1)")
        return self


class KitIssue(_Config):
    """Starter kit days and place (reg 8.1)."""

    days: tuple[dt.date, ...] = Field(
        default=(dt.date(2024, 3, 15), dt.date(2024, 3, 16)),
        min_length=1,
        description="reg 8.1: days kits are issued (and no other days).",
    )
    opens_at: dt.time = Field(default=dt.time(10, 0), description="reg 8.1: issue opens (local).")
    closes_at: dt.time = Field(default=dt.time(20, 0), description="reg 8.1: issue closes (local).")
    address: str = Field(
        default="111 Nauryzbay Batyr St, Almaty",
        min_length=1,
        description="reg 8.1: the only place kits are issued.",
    )

    @model_validator(mode="after")
    def _hours_are_ordered(self) -> Self:
        if self.opens_at >= self.closes_at:
            raise ValueError("kit issue must open before it closes (reg 8.1)")
        return self


class AgeCategory(_Config):
    """One age category of one gender on one distance (reg 4.2.1-4.2.3, RULES §2)."""

    gender: Gender = Field(description="reg 4.2: categories are per gender.")
    code: CategoryCode = Field(description="Name shown in results, e.g. `35-44`.")
    min_age: int = Field(ge=0, description="reg 5.2: youngest exact age on the competition date.")
    max_age: int | None = Field(
        default=None, description="Oldest exact age; absent for an open-ended category (`55+`)."
    )
    qualifying_time_us: Microseconds | None = Field(
        default=None,
        description="reg 4.2.3: slowest accepted qualifying result, in microseconds (3000 m).",
    )

    @model_validator(mode="after")
    def _ages_are_ordered(self) -> Self:
        if self.max_age is not None and self.max_age < self.min_age:
            raise ValueError(f"category {self.code}: max_age below min_age")
        return self

    def admits(self, age: int) -> bool:
        """Whether a runner of exact full ``age`` (reg 5.2) belongs here."""
        return self.min_age <= age and (self.max_age is None or age <= self.max_age)


class BibRange(_Config):
    """A block of BIB numbers issued in order and never reused (RULES §3)."""

    first: int = Field(ge=1, description="First BIB of the range.")
    last: int = Field(ge=1, description="Last BIB of the range (inclusive).")

    @model_validator(mode="after")
    def _is_ordered(self) -> Self:
        if self.first > self.last:
            raise ValueError(f"BIB range {self.first}-{self.last} is empty")
        return self

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def overlaps(self, other: BibRange) -> bool:
        return self.first <= other.last and other.first <= self.last


class RaceDivision(_Config):
    """How a race group of N confirmed starters is split into races (reg 11.3, RULES §5).

    N <= ``race_max``: one race, the final. N <= ``one_round_max``: one round of balanced races
    placed by time across them (reg 11.3.6). Otherwise races of at most ``race_max``, then a
    final of the ``final_size`` fastest; without ``final_size`` (3000 m) the one round is
    placed by time across all races (reg 11.3.4).
    """

    race_max: int = Field(ge=1, description="Most runners in one race (heat).")
    final_size: int | None = Field(
        default=None, ge=1, description="Fastest runners of round 1 who run the final."
    )
    one_round_max: int | None = Field(
        default=None, ge=1, description="Largest group run in one round without a final."
    )
    in_lanes: bool = Field(description="Races are run in lanes (the 100 m).")


class DistanceConfig(_Config):
    """One individual distance (reg 4.1) and every number that goes with it."""

    code: DistanceCode = Field(description="reg 4.1: name of the distance, e.g. `100m`.")
    length_m: int = Field(gt=0, description="reg 4.1: length in metres.")
    fee_kzt: Kzt = Field(description="reg 7.5, RULES §3 default: entry fee.")
    slot_limit: int = Field(ge=0, description="reg 7.6, RULES §3 default: paid slots.")
    bibs: BibRange = Field(description="RULES §3 default: BIB numbers of the distance.")
    qualification_required: bool = Field(
        description="reg 4.2.3: entry needs a qualifying result (3000 m)."
    )
    finish_crossings: int = Field(
        ge=1, description="RULES §6: finish-line crossings of a runner (100m 1, 1000m 3, 3000m 8)."
    )
    min_finish_time_us: Microseconds = Field(
        description="RULES §6, our default: a crossing earlier than this is a lap, not a finish."
    )
    race_slot_minutes: int = Field(
        ge=1, description="RULES §5, our default: programme time one race takes."
    )
    division: RaceDivision = Field(description="reg 11.3.2-11.3.6: races, heats and final.")
    age_categories: tuple[AgeCategory, ...] = Field(
        min_length=1, description="reg 4.2.1-4.2.3, RULES §2 default: categories per gender."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.slot_limit > self.bibs.size:
            raise ValueError(f"{self.code}: slot_limit exceeds the BIB range")
        for gender in ("M", "F"):
            categories = sorted(
                (c for c in self.age_categories if c.gender == gender), key=lambda c: c.min_age
            )
            codes = [c.code for c in categories]
            if len(set(codes)) != len(codes):
                raise ValueError(f"{self.code}: category codes repeat for gender {gender}")
            for lower, upper in pairwise(categories):
                if lower.max_age is None or lower.max_age >= upper.min_age:
                    raise ValueError(
                        f"{self.code}: categories {lower.code} and {upper.code} overlap"
                    )
        has_time = [c.qualifying_time_us is not None for c in self.age_categories]
        if self.qualification_required and not all(has_time):
            raise ValueError(f"{self.code}: every category needs a qualifying time (reg 4.2.3)")
        if not self.qualification_required and any(has_time):
            raise ValueError(f"{self.code}: qualifying times given but not required")
        return self

    def categories(self, gender: Gender) -> tuple[AgeCategory, ...]:
        return tuple(c for c in self.age_categories if c.gender == gender)


class RelayConfig(_Config):
    """The medley relay (RULES §8, news report of the fourth edition)."""

    code: DistanceCode = Field(default="relay", description="RULES §1: name of the relay event.")
    legs_m: tuple[int, ...] = Field(
        default=(800, 400, 200, 100),
        min_length=1,
        description="RULES §8: leg lengths in running order (1,500 m in all).",
    )
    category: CategoryCode = Field(
        default="open", description="RULES §8: the relay's one (mixed) category."
    )
    team_fee_kzt: Kzt = Field(default=20_000, description="reg 7.5, RULES §3 default: team fee.")
    bibs: BibRange = Field(
        default=BibRange(first=5001, last=5999),
        description="RULES §3 default: team BIBs; legs wear `<bib>-<leg>`.",
    )
    race_max: int = Field(
        default=8, ge=1, description="RULES §8 default: teams per race (one round, timed final)."
    )
    min_finish_time_us: Microseconds = Field(
        default=3 * MINUTE_US,
        description="RULES §6, our default: a last-leg crossing earlier than this is not a finish.",
    )
    race_slot_minutes: int = Field(
        default=10, ge=1, description="RULES §5, our default: programme time one race takes."
    )
    prize_fund_kzt: tuple[Kzt, ...] = Field(
        default=(200_000, 150_000, 100_000),
        description="RULES §8 (news): prize money for places 1, 2, 3.",
    )

    @property
    def length_m(self) -> int:
        return sum(self.legs_m)


class Lanes(_Config):
    """Lanes of the 100 m (RULES §5)."""

    count: int = Field(default=8, ge=1, description="RULES §5 default: lanes on the straight.")
    final_draw: tuple[tuple[int, ...], ...] = Field(
        default=LANE_DRAW_WA_2023,
        description="RULES §5: lane groups drawn by the final's ranking, best first; "
        "WA since 2023 `[[3,4,5,6],[2,7],[1,8]]`, older `[[3,4,5,6],[7,8],[1,2]]`.",
    )

    @model_validator(mode="after")
    def _draw_covers_every_lane(self) -> Self:
        lanes = sorted(lane for group in self.final_draw for lane in group)
        if lanes != list(range(1, self.count + 1)):
            raise ValueError(f"final_draw must use lanes 1..{self.count} once each, got {lanes}")
        return self


class Schedule(_Config):
    """How the programme generator orders and spaces races (RULES §5).

    The programme runs from the edition's ``starts_at`` to ``ends_at`` (reg 3.1); groups run in
    ``distance_order``, then ``gender_order``, then the order their categories are listed in.
    """

    distance_order: tuple[DistanceCode, ...] = Field(
        default=("100m", "1000m", "3000m", "relay"),
        description="RULES §5, our default (the news report's order): distances in the programme.",
    )
    gender_order: tuple[Gender, ...] = Field(
        default=("M", "F"), description="RULES §5, our default: genders within a distance."
    )
    min_rest_before_final_minutes: int = Field(
        default=45,
        ge=0,
        description="RULES §5, our default: rest between a group's last heat and its final.",
    )

    @field_validator("gender_order")
    @classmethod
    def _both_genders_once(cls, value: tuple[Gender, ...]) -> tuple[Gender, ...]:
        if sorted(value) != ["F", "M"]:
            raise ValueError("gender_order must list M and F once each")
        return value


class TeamClassification(_Config):
    """One team classification and the distances it sums (reg 4.2.4)."""

    code: str = Field(pattern=r"^[a-z0-9-]+$", description="Key on `teams.standings.v1`.")
    name: str = Field(min_length=1, description="reg 4.2.4: name shown.")
    distances: tuple[DistanceCode, ...] = Field(
        min_length=1, description="reg 4.2.4: distances whose results count."
    )


class TeamRules(_Config):
    """Team classification (reg 4.2.4, RULES §7)."""

    applications_until_local: NaiveDatetime = Field(
        default=dt.datetime(2024, 3, 2, 23, 59, 59),
        description="reg 4.2.4: applications before 2024-03-03, i.e. until this instant.",
    )
    men_per_team: int = Field(default=5, ge=1, description="reg 4.2.4: men's results counted.")
    women_per_team: int = Field(default=5, ge=1, description="reg 4.2.4: women's results counted.")
    penalty_extra_points: int = Field(
        default=2, ge=0, description="reg 4.2.4: DNS/DNF/DQ scores the entrants plus this."
    )
    classifications: tuple[TeamClassification, ...] = Field(
        default=(
            TeamClassification(code="sprint", name="Sprint", distances=("100m",)),
            TeamClassification(code="medium", name="Medium-range", distances=("1000m", "3000m")),
        ),
        min_length=1,
        description="reg 4.2.4: Sprint (100 m) and Medium-range (1000 m, 3000 m).",
    )


class ResultRules(_Config):
    """Times, places, prizes and publication (reg 11-12, RULES §6)."""

    official_time_resolution_us: int = Field(
        default=10_000,
        ge=1,
        description="RULES §6: official track times are raw times rounded up to 1/100 s.",
    )
    tie_resolution_us: int = Field(
        default=1_000, ge=1, description="RULES §5: ties into a final compare 1/1000 s."
    )
    read_cluster_us: Microseconds = Field(
        default=2 * SECOND_US,
        description="RULES §6, our default: reads of a chip this close are one crossing.",
    )
    prize_places: int = Field(default=3, ge=1, description="reg 11.1-11.3.4: prize-winners.")
    official_within_hours: int = Field(
        default=24, ge=1, description="reg 11.3.7: official results are published within."
    )
    prize_collection_business_days: int = Field(
        default=10, ge=0, description="reg 12.3-12.4: prizes may be collected for."
    )


class ProtestRules(_Config):
    """Protests (reg 17)."""

    window_days: int = Field(
        default=2, ge=0, description="reg 17.2: calendar days after the competition ends."
    )
    answer_hours: int = Field(default=24, ge=1, description="reg 17.3: answer is due within.")


def _categories(
    qualifying: dict[tuple[Gender, str], int] | None = None,
) -> tuple[AgeCategory, ...]:
    # RULES §2 default for every distance: 18-34, 35-44, 45-54, 55+ for men and for women.
    bands: tuple[tuple[str, int, int | None], ...] = (
        ("18-34", 18, 34),
        ("35-44", 35, 44),
        ("45-54", 45, 54),
        ("55+", 55, None),
    )
    genders: tuple[Gender, ...] = ("M", "F")
    return tuple(
        AgeCategory(
            gender=gender,
            code=code,
            min_age=low,
            max_age=high,
            qualifying_time_us=None if qualifying is None else qualifying[(gender, code)],
        )
        for gender in genders
        for code, low, high in bands
    )


def _mmss(minutes: int, seconds: int = 0) -> int:
    return minutes * MINUTE_US + seconds * SECOND_US


# RULES §3 default qualifying times for 3000 m (reg 4.2.3).
QUALIFYING_3000M_2024: dict[tuple[Gender, str], int] = {
    ("M", "18-34"): _mmss(13),
    ("M", "35-44"): _mmss(13, 30),
    ("M", "45-54"): _mmss(14, 30),
    ("M", "55+"): _mmss(16),
    ("F", "18-34"): _mmss(15, 30),
    ("F", "35-44"): _mmss(16),
    ("F", "45-54"): _mmss(17),
    ("F", "55+"): _mmss(19),
}

DISTANCES_2024: tuple[DistanceConfig, ...] = (
    DistanceConfig(
        code="100m",
        length_m=100,
        fee_kzt=5_000,
        slot_limit=250,
        bibs=BibRange(first=1, last=999),
        qualification_required=False,
        finish_crossings=1,
        min_finish_time_us=9 * SECOND_US,
        race_slot_minutes=5,
        division=RaceDivision(race_max=8, final_size=8, one_round_max=12, in_lanes=True),
        age_categories=_categories(),
    ),
    DistanceConfig(
        code="1000m",
        length_m=1000,
        fee_kzt=7_000,
        slot_limit=250,
        bibs=BibRange(first=1001, last=1999),
        qualification_required=False,
        finish_crossings=3,
        min_finish_time_us=_mmss(2),
        race_slot_minutes=8,
        division=RaceDivision(race_max=25, final_size=20, in_lanes=False),
        age_categories=_categories(),
    ),
    DistanceConfig(
        code="3000m",
        length_m=3000,
        fee_kzt=9_000,
        slot_limit=200,
        bibs=BibRange(first=3001, last=3999),
        qualification_required=True,
        finish_crossings=8,
        min_finish_time_us=_mmss(7),
        race_slot_minutes=18,
        division=RaceDivision(race_max=25, in_lanes=False),
        age_categories=_categories(QUALIFYING_3000M_2024),
    ),
)


class Edition(_Config):
    """One edition of the competition. ``Edition()`` is Almaty Copa Run 2024 (RULES.md)."""

    code: EditionCode = Field(
        default="2024", description="RULES §1: edition id, the stem of `editions/<code>.toml`."
    )
    name: str = Field(
        default="Almaty Copa Run 2024", min_length=1, description="Regulations title: the name."
    )
    date: dt.date = Field(
        default=dt.date(2024, 3, 17),
        description="reg 3.1: competition day (a postponement, 16.1, is an event, not an edit).",
    )
    starts_at: dt.time = Field(default=dt.time(8, 30), description="reg 3.1: first start (local).")
    ends_at: dt.time = Field(
        default=dt.time(17, 0), description="reg 3.1: all must end by (local)."
    )
    time_zone: str = Field(
        default="Asia/Almaty",
        description="RULES §1: IANA zone of every local time here; never a fixed offset.",
    )
    currency: Literal["KZT"] = Field(
        default="KZT", description="RULES §1: integer tenge, no floats for money."
    )
    minimum_age: int = Field(default=18, ge=0, description="reg 5.1: youngest age admitted.")
    venue: Venue = Field(default=Venue(), description="reg 3.2.")
    registration: RegistrationRules = Field(default=RegistrationRules(), description="reg 7.")
    kit_issue: KitIssue = Field(default=KitIssue(), description="reg 8.1.")
    distances: tuple[DistanceConfig, ...] = Field(
        default=DISTANCES_2024, min_length=1, description="reg 4.1: individual distances."
    )
    relay: RelayConfig = Field(default=RelayConfig(), description="RULES §8: the medley relay.")
    lanes: Lanes = Field(default=Lanes(), description="RULES §5: lanes of the 100 m.")
    schedule: Schedule = Field(default=Schedule(), description="RULES §5: the programme.")
    teams: TeamRules = Field(default=TeamRules(), description="reg 4.2.4: team classification.")
    results: ResultRules = Field(default=ResultRules(), description="reg 11-12, RULES §6.")
    protests: ProtestRules = Field(default=ProtestRules(), description="reg 17.")

    @field_validator("time_zone")
    @classmethod
    def _is_a_named_zone(cls, value: str) -> str:
        # RULES §1: Kazakhstan changed its offset on 2024-03-01; only a named zone knows that.
        if "/" not in value or value.startswith("Etc/"):
            raise ValueError(
                f"time_zone must be an IANA area/location such as Asia/Almaty, not {value!r}"
            )
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.starts_at >= self.ends_at:
            raise ValueError("the competition must start before it ends (reg 3.1)")
        if self.registration.closes_at_local.date() > self.date:
            raise ValueError("registration closes after the competition (reg 7.1)")
        codes = [d.code for d in self.distances]
        all_codes = [*codes, self.relay.code]
        if len(set(all_codes)) != len(all_codes):
            raise ValueError(f"distance codes repeat: {all_codes}")
        ranges = [(d.code, d.bibs) for d in self.distances] + [(self.relay.code, self.relay.bibs)]
        for i, (code_a, range_a) in enumerate(ranges):
            for code_b, range_b in ranges[i + 1 :]:
                if range_a.overlaps(range_b):
                    raise ValueError(f"BIB ranges of {code_a} and {code_b} overlap (RULES §3)")
        for distance in self.distances:
            if any(c.min_age < self.minimum_age for c in distance.age_categories):
                raise ValueError(f"{distance.code}: a category admits under {self.minimum_age}")
            division = distance.division
            if division.in_lanes:
                largest = max(division.race_max, division.final_size or 0)
                if largest > self.lanes.count:
                    raise ValueError(f"{distance.code}: races larger than {self.lanes.count} lanes")
        _same_set("schedule.distance_order", self.schedule.distance_order, all_codes)
        for classification in self.teams.classifications:
            unknown = set(classification.distances) - set(codes)
            if unknown:
                raise ValueError(f"team classification {classification.code}: unknown {unknown}")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def to_utc(self, local: dt.datetime) -> dt.datetime:
        """The instant of a local wall-clock time of this edition (RULES §1: store UTC)."""
        if local.tzinfo is not None:
            raise ValueError("expected a local (naive) datetime")
        return local.replace(tzinfo=self.zone).astimezone(dt.UTC)

    def distance(self, code: str) -> DistanceConfig:
        for distance in self.distances:
            if distance.code == code:
                return distance
        raise KeyError(code)


def _same_set(name: str, listed: Iterable[str], expected: Iterable[str]) -> None:
    listed_list, expected_set = list(listed), set(expected)
    if len(set(listed_list)) != len(listed_list) or set(listed_list) != expected_set:
        raise ValueError(f"{name} must list {sorted(expected_set)} once each, got {listed_list}")


def find_editions_dir(start: Path | None = None) -> Path:
    """The `editions/` folder: ``$COPA_EDITIONS_DIR``, else the nearest one above ``start``.

    ``start`` defaults to the working directory; then this file's location is tried too, so
    that tests and tools find the repository's folder from anywhere inside the checkout. An
    installed package (a container image) sets the variable instead.
    """
    configured = os.environ.get(EDITIONS_DIR_ENV)
    if configured:
        return Path(configured)
    origins = [start or Path.cwd(), Path(__file__).resolve().parent]
    for origin in origins:
        for folder in (origin, *origin.parents):
            candidate = folder / "editions"
            if candidate.is_dir():
                return candidate
    raise FileNotFoundError(
        f"no editions/ folder above {origins[0]} or {origins[1]}; set {EDITIONS_DIR_ENV}"
    )


def load_edition(edition: str = "2024", editions_dir: Path | None = None) -> Edition:
    """Read and validate `editions/<edition>.toml` (see :func:`find_editions_dir`)."""
    directory = editions_dir if editions_dir is not None else find_editions_dir()
    path = directory / f"{edition}.toml"
    with path.open("rb") as file:
        data = tomllib.load(file)
    loaded = Edition.model_validate(data)
    if loaded.code != edition:
        raise ValueError(f"{path} declares code {loaded.code!r}, expected {edition!r}")
    return loaded


__all__ = [
    "DISTANCES_2024",
    "EDITIONS_DIR_ENV",
    "LANE_DRAW_BEFORE_2023",
    "LANE_DRAW_WA_2023",
    "QUALIFYING_3000M_2024",
    "AgeCategory",
    "BibRange",
    "DistanceConfig",
    "Edition",
    "KitIssue",
    "Lanes",
    "ProtestRules",
    "RaceDivision",
    "RegistrationRules",
    "RelayConfig",
    "ResultRules",
    "Schedule",
    "TeamClassification",
    "TeamRules",
    "Venue",
    "find_editions_dir",
    "load_edition",
]
