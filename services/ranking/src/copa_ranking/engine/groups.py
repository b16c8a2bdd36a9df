"""Race groups: the runners who race and are ranked together (RULES §2, reg 4.2, 11.3).

A race group is (distance, gender, age category). The categories come from the edition's
configuration (reg 4.2.1-4.2.3); the engine never names one itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from copa_contracts.edition import AgeCategory, DistanceConfig
from copa_ranking.engine.terms import Bib, EngineError, Gender, RaceGender


@dataclass(frozen=True, slots=True)
class RaceGroup:
    """(distance, gender, age category): one group of the programme (RULES §2).

    ``gender`` is ``X`` for the mixed medley relay (RULES §8).
    """

    distance: str
    gender: RaceGender
    category: str

    def __str__(self) -> str:
        return f"{self.distance} {self.gender} {self.category}"


@dataclass(frozen=True, slots=True)
class Entrant:
    """A confirmed starter of a group (RULES §5: kit collected), by BIB.

    ``seed_time_us``: a seed time the entry carries, if any; when entries carry them the draw
    is serpentine by seed time instead of random (RULES §5).
    """

    bib: Bib
    seed_time_us: int | None = None

    def __post_init__(self) -> None:
        if self.seed_time_us is not None and self.seed_time_us < 0:
            raise EngineError(f"BIB {self.bib}: negative seed time")


class NoCategoryError(EngineError):
    """No age category of the distance admits the runner (reg 4.2, 5.1)."""


def full_age(born_on: dt.date, on: dt.date) -> int:
    """Exact full age in years on a day (reg 5.2): a birthday counts from the day itself.

    Someone born on 29 February turns a year older on 1 March in a common year.
    """
    before_birthday = (on.month, on.day) < (born_on.month, born_on.day)
    return on.year - born_on.year - (1 if before_birthday else 0)


def category_for(distance: DistanceConfig, gender: Gender, age: int) -> AgeCategory:
    """The age category of a runner of ``gender`` and exact ``age`` (reg 4.2.1-4.2.3)."""
    try:
        return category_among(distance.categories(gender), gender, age)
    except NoCategoryError:
        raise NoCategoryError(
            f"{distance.code}: no category for gender {gender}, age {age}"
        ) from None


def category_among(categories: Iterable[AgeCategory], gender: Gender, age: int) -> AgeCategory:
    """The first of ``categories`` of ``gender`` that admits exact ``age`` (reg 4.2, 5.2).

    Categories apply within each gender (reg 4.2): one of another gender never admits.
    """
    for category in categories:
        if category.gender == gender and category.admits(age):
            return category
    raise NoCategoryError(f"no category for gender {gender}, age {age}")


def race_group(distance: DistanceConfig, gender: Gender, age: int) -> RaceGroup:
    """The race group of a runner (RULES §2: distance, gender, age category)."""
    return RaceGroup(distance.code, gender, category_for(distance, gender, age).code)


def require_unique(entrants: Iterable[Entrant]) -> tuple[Entrant, ...]:
    """The entrants as a tuple; a BIB listed twice is an error (reg 7.8: one BIB, one runner)."""
    listed = tuple(entrants)
    seen: set[Bib] = set()
    for entrant in listed:
        if entrant.bib in seen:
            raise EngineError(f"BIB {entrant.bib} is entered twice")
        seen.add(entrant.bib)
    return listed


__all__ = [
    "Entrant",
    "NoCategoryError",
    "RaceGroup",
    "category_among",
    "category_for",
    "full_age",
    "race_group",
    "require_unique",
]
