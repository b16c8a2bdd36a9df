"""Who applies: the simulated people, what they enter and how they behave (issue 8).

Pure and reproducible from a seed. A person applies for one distance in an age category of
the edition (reg 4.1, 4.2; age on the competition day, RULES §2), with a qualifying result for
the 3000 m (reg 4.2.3), and then does one of the things people do on a registration site:
pays, abandons the payment page (the hold expires, RULES §3), pays twice (the provider sends
the same callback again), or pays after the hold ran out (a fresh slot is taken if one is
left, RULES §3). A few change distance before the deadline (reg 7.6).

Each person also has a running ability: the time they would run their distance, drawn around
a level for their gender and age, used by :mod:`copa.simulate.races`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace
from typing import Literal

from copa_contracts.edition import AgeCategory, DistanceConfig, Edition

Behaviour = Literal["pays", "abandons", "pays_twice", "pays_late"]

FIRST_NAMES = {
    "M": ["Arman", "Nurlan", "Daniyar", "Yerlan", "Timur", "Aidos", "Sergey", "Ivan", "Marat",
          "Askar", "Dmitry", "Ruslan", "Alikhan", "Bauyrzhan", "Azamat", "Oleg", "Nikita"],
    "F": ["Aigerim", "Dana", "Madina", "Aruzhan", "Olga", "Elena", "Saule", "Gulnara", "Asel",
          "Dinara", "Anna", "Zhanar", "Aliya", "Kamila", "Irina", "Laura", "Tomiris"],
}  # fmt: skip
LAST_NAMES = ["Abenov", "Seitkali", "Ivanov", "Nurpeisov", "Kim", "Petrov", "Omarov", "Li",
              "Sadykov", "Tokayev", "Smirnov", "Zhakupov", "Bekov", "Akhmetov", "Pak", "Orlov",
              "Mukanov", "Serikbay", "Volkov", "Dzhaksybekov"]  # fmt: skip
CLUBS = [None, None, None, "Almaty Runners", "Medeu Track Club", "Kairat Athletics", "RunKZ",
         "Alatau Striders", "Copa Team"]  # fmt: skip
LANGUAGES = ("ru", "ru", "ru", "kk", "kk", "en")


@dataclass(frozen=True)
class Person:
    """One applicant, as the simulation knows them (its own truth)."""

    number: int
    first_name: str
    last_name: str
    gender: Literal["M", "F"]
    birth_date: dt.date
    category: str
    distance: str
    """The distance applied for first."""
    races_distance: str
    """The distance they run: ``distance``, or the one they changed to (reg 7.6)."""
    language: str
    club: str | None
    behaviour: Behaviour
    ability_us: int
    """The gun time they would run ``races_distance`` in, to the microsecond."""
    qualifying_time_us: int | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def email(self) -> str:
        return f"runner{self.number:05d}@sim.copa.example"

    @property
    def phone(self) -> str:
        return f"+7 701 {self.number // 10000 % 1000:03d} {self.number % 10000:04d}"

    @property
    def enters(self) -> bool:
        """Ends up a paid participant: everyone but those who abandon (RULES §3)."""
        return self.behaviour != "abandons"


@dataclass(frozen=True)
class FieldPlan:
    people: tuple[Person, ...]


def plan_field(
    edition: Edition,
    applicants: int,
    seed: int,
    *,
    distances: tuple[str, ...] | None = None,
    abandon_share: float = 0.03,
    twice_share: float = 0.02,
    late_share: float = 0.01,
    change_share: float = 0.02,
) -> FieldPlan:
    """``applicants`` people over ``distances`` (default: all), shared as the slot limits are.

    The counts per distance follow the slot limits' proportions (reg 7.6) and never exceed a
    limit, so every payer finds a slot; people who change distance move to one with room.
    """
    rng = random.Random(seed)
    chosen = [d for d in edition.distances if distances is None or d.code in distances]
    if not chosen:
        raise ValueError(f"no such distance in edition {edition.code}: {distances}")
    room = sum(d.slot_limit for d in chosen)
    if applicants > min(room, edition.registration.capacity):
        # Those who abandon hold a slot until their hold expires, while the others apply:
        # every applicant must fit the capacity at once.
        raise ValueError(
            f"{applicants} applicants do not fit {edition.code}: capacity "
            f"{edition.registration.capacity}, slots {room} on {[d.code for d in chosen]}; "
            "start the platform with `copa up --rehearsal --capacity N`"
        )
    counts = _shares(applicants, [d.slot_limit for d in chosen])
    people: list[Person] = []
    number = 0
    for distance, count in zip(chosen, counts, strict=True):
        for _ in range(count):
            number += 1
            people.append(_person(rng, edition, distance, number))
    rng.shuffle(people)
    behaviours: list[Behaviour] = []
    for _ in people:
        roll = rng.random()
        if roll < abandon_share:
            behaviours.append("abandons")
        elif roll < abandon_share + twice_share:
            behaviours.append("pays_twice")
        elif roll < abandon_share + twice_share + late_share:
            behaviours.append("pays_late")
        else:
            behaviours.append("pays")
    people = [replace(p, behaviour=b) for p, b in zip(people, behaviours, strict=True)]
    people = _distance_changes(rng, edition, chosen, people, change_share)
    return FieldPlan(tuple(people))


def _shares(total: int, weights: list[int]) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), each within its weight."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def _person(rng: random.Random, edition: Edition, distance: DistanceConfig, number: int) -> Person:
    gender: Literal["M", "F"] = "M" if rng.random() < 0.58 else "F"
    category = _category(rng, distance.categories(gender))
    age = rng.randint(category.min_age, category.max_age or category.min_age + 20)
    competition_day = edition.date
    birthday_this_year = _same_day(competition_day, competition_day.year - age)
    birth_date = birthday_this_year - dt.timedelta(days=rng.randint(1, 360))
    qualifying = None
    if distance.qualification_required:
        limit = category.qualifying_time_us
        assert limit is not None  # the edition's schema requires one (reg 4.2.3)
        qualifying = int(limit * rng.uniform(0.86, 0.995))
    return Person(
        number=number,
        first_name=rng.choice(FIRST_NAMES[gender]),
        last_name=rng.choice(LAST_NAMES) + ("a" if gender == "F" else ""),
        gender=gender,
        birth_date=birth_date,
        category=category.code,
        distance=distance.code,
        races_distance=distance.code,
        language=rng.choice(LANGUAGES),
        club=rng.choice(CLUBS),
        behaviour="pays",
        ability_us=_ability(rng, distance, gender, age, qualifying),
        qualifying_time_us=qualifying,
    )


def _category(rng: random.Random, categories: tuple[AgeCategory, ...]) -> AgeCategory:
    # Younger categories are the larger ones at a city race.
    weights = [0.45, 0.3, 0.17, 0.08][: len(categories)] or [1.0]
    weights += [0.05] * (len(categories) - len(weights))
    return rng.choices(categories, weights=weights)[0]


def _same_day(day: dt.date, year: int) -> dt.date:
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February
        return day.replace(year=year, day=28)


# Typical times of an amateur field, men 18-34 (seconds); women and older runners slower.
_LEVEL_S = {100: 13.2, 1000: 215.0}


def _ability(
    rng: random.Random,
    distance: DistanceConfig,
    gender: str,
    age: int,
    qualifying_us: int | None,
) -> int:
    floor_us = distance.min_finish_time_us + 500_000  # nobody beats the plausibility floor
    if qualifying_us is not None:
        # A qualified 3000 m runner runs about their qualifying time on the day.
        return max(floor_us, int(rng.gauss(qualifying_us * 1.01, qualifying_us * 0.03)))
    level = _LEVEL_S.get(distance.length_m, distance.length_m * 0.22)
    factor = (1.14 if gender == "F" else 1.0) * (1.0 + max(0, age - 35) * 0.009)
    seconds = rng.gauss(level * factor, level * factor * 0.07)
    return max(floor_us, int(seconds * 1_000_000))


def _distance_changes(
    rng: random.Random,
    edition: Edition,
    chosen: list[DistanceConfig],
    people: list[Person],
    share: float,
) -> list[Person]:
    """A few payers move to another distance without a qualification rule (reg 7.6), where
    there is room under its slot limit."""
    if len(chosen) < 2:
        return people
    open_distances = [d for d in chosen if not d.qualification_required]
    taken = {d.code: sum(1 for p in people if p.enters and p.distance == d.code) for d in chosen}
    changed: list[Person] = []
    for person in people:
        targets = [
            d for d in open_distances if d.code != person.distance and taken[d.code] < d.slot_limit
        ]
        if (
            person.behaviour == "pays"
            and person.qualifying_time_us is None
            and targets
            and rng.random() < share
        ):
            target = rng.choice(targets)
            taken[target.code] += 1
            taken[person.distance] -= 1
            age = edition.date.year - person.birth_date.year
            person = replace(
                person,
                races_distance=target.code,
                ability_us=_ability(rng, target, person.gender, age, None),
            )
        changed.append(person)
    return changed
