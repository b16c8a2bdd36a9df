"""The rules of entry, as plain functions of the edition config (reg 4.2, 5, 7, RULES.md §2-§3).

Nothing here touches a database, HTTP or the clock: the caller passes ``now`` and the
competition date, so every rule is a unit-testable statement about the regulations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from copa_contracts.edition import AgeCategory, DistanceConfig, Edition

RefusalReason = Literal[
    "registration_closed",
    "capacity_reached",
    "distance_full",
    "under_minimum_age",
    "banned",
    "qualification_refused",
    "duplicate",
]


@dataclass(frozen=True)
class Refusal(Exception):
    """Why an application cannot become an entry, and the clause applied (every refusal says
    why)."""

    reason: str
    clause: str
    detail: str
    status: int = 422

    def __str__(self) -> str:
        return f"{self.reason} (reg {self.clause}): {self.detail}"


def exact_age(birth_date: dt.date, on: dt.date) -> int:
    """Exact full age in years on ``on`` (reg 5.2). A 29 February birthday counts on 1 March."""
    years = on.year - birth_date.year
    if (on.month, on.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def age_category(
    edition: Edition, distance: DistanceConfig, gender: str, birth_date: dt.date, on: dt.date
) -> AgeCategory:
    """The category of a runner on ``distance`` by exact age on the competition date ``on``.

    reg 5.1: the youngest admitted age is the edition's ``minimum_age`` (18); reg 5.2: age counts
    on the day of the competition (after a postponement, 16.1, the new day).
    """
    age = exact_age(birth_date, on)
    if age < edition.minimum_age:
        raise Refusal(
            "under_minimum_age",
            "5.1",
            f"You will be {age} on {on.isoformat()}; the minimum age is {edition.minimum_age}.",
        )
    for category in distance.categories(gender):  # type: ignore[arg-type]
        if category.admits(age):
            return category
    raise Refusal("under_minimum_age", "4.2", f"No {distance.code} category admits age {age}.")


def check_window(edition: Edition, now: dt.datetime) -> None:
    """reg 7.1: registration is open from ``opens_at_local`` to ``closes_at_local`` inclusive."""
    rules = edition.registration
    opens = edition.to_utc(rules.opens_at_local)
    closes = edition.to_utc(rules.closes_at_local)
    if now < opens:
        raise Refusal(
            "registration_closed", "7.1", f"Registration opens {rules.opens_at_local.isoformat()}."
        )
    if now >= closes + dt.timedelta(seconds=1):
        raise Refusal(
            "registration_closed",
            "7.1",
            f"Registration closed {rules.closes_at_local.isoformat()}.",
        )


def local_date(edition: Edition, now: dt.datetime) -> dt.date:
    return now.astimezone(edition.zone).date()


@dataclass(frozen=True)
class QualifyingResult:
    """A result offered for entry to 3000 m (reg 4.2.3, RULES §3)."""

    distance_m: int
    time_us: int
    result_date: dt.date
    event_name: str
    evidence_url: str


def check_qualification(
    edition: Edition,
    category: AgeCategory,
    result: QualifyingResult | None,
    applied_on: dt.date,
    distance: DistanceConfig,
) -> None:
    """reg 4.2.3: a confirmed result over the distance, from the 3 years before the application
    date, no slower than the category's qualifying time. The numbers are checked at once; an
    organizer verifies the evidence afterwards."""
    if not distance.qualification_required:
        return
    qualifying = category.qualifying_time_us
    assert qualifying is not None  # the config validator guarantees it (reg 4.2.3)
    if result is None:
        raise Refusal(
            "qualification_refused", "4.2.3", f"{distance.code} needs a qualifying result."
        )
    if result.distance_m != distance.length_m:
        raise Refusal(
            "qualification_refused",
            "4.2.3",
            f"The qualifying result must be over {distance.length_m} m, not {result.distance_m} m.",
        )
    years = edition.registration.qualification_lookback_years
    earliest = _years_before(applied_on, years)
    if result.result_date > applied_on:
        raise Refusal("qualification_refused", "4.2.3", "The result's date is in the future.")
    if result.result_date < earliest:
        raise Refusal(
            "qualification_refused",
            "4.2.3",
            f"The result is older than {years} years (earliest accepted {earliest.isoformat()}).",
        )
    if result.time_us > qualifying:
        raise Refusal(
            "qualification_refused",
            "4.2.3",
            f"{format_time(result.time_us)} is slower than the qualifying time "
            f"{format_time(qualifying)} of category {category.gender} {category.code}.",
        )


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def format_time(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes}:{seconds:02d}" + (f".{micro // 10_000:02d}" if micro else "")


def distance_change_fee(
    edition: Edition, old: DistanceConfig, new: DistanceConfig
) -> tuple[int, int]:
    """reg 7.6: (change fee, fee difference). The difference is paid towards a dearer distance;
    towards a cheaper one nothing is refunded (0)."""
    return edition.registration.change_fee_kzt, max(0, new.fee_kzt - old.fee_kzt)


def check_distance_change_allowed(edition: Edition, today_local: dt.date) -> None:
    """reg 7.6: changes until ``distance_change_until`` inclusive."""
    until = edition.registration.distance_change_until
    if today_local > until:
        raise Refusal(
            "distance_change_closed", "7.6", f"Distance changes ended on {until.isoformat()}."
        )


_SPACES = re.compile(r"\s+")


def normalize_name(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold().replace("ё", "е")
    return _SPACES.sub(" ", folded).strip()


def person_key(first_name: str, last_name: str, birth_date: dt.date) -> str:
    """Who a person is for bans (7.11) and duplicate entries: the same name and date of birth.

    A hash, so that the key says nothing by itself (RULES §10: personal data stays inside)."""
    raw = f"{normalize_name(last_name)}|{normalize_name(first_name)}|{birth_date.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def banned_editions(from_edition: str, editions: int) -> set[str]:
    """reg 7.11: admission to the next ``editions`` competitions is denied.

    Editions are named by their year (`2024`); the next ones are the following years. A
    non-numeric code cannot be counted forward and bans nothing automatically."""
    if not from_edition.isdigit():
        return set()
    year = int(from_edition)
    return {str(year + n) for n in range(1, editions + 1)}


def leg_bib(team_bib: int, leg: int) -> str:
    """RULES §3: relay runners wear the team BIB with the leg as a suffix."""
    return f"{team_bib}-{leg}"
