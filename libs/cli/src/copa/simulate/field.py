"""Who applies: the simulated people, what they enter and how they behave (issue 8).

Pure and reproducible from a seed. A person applies for one distance in an age category of
the edition (reg 4.1, 4.2; age on the competition day, RULES §2), with a qualifying result for
the 3000 m (reg 4.2.3), and then does one of the things people do on a registration site:
pays, abandons the payment page (the hold expires, RULES §3), pays twice (the provider sends
the same callback again), or pays after the hold ran out (a fresh slot is taken if one is
left, RULES §3). A few change distance before the deadline (reg 7.6). Some do not apply on the
site themselves: the staff of a company with more than 30 entrants are registered by an
organizer from the company's list and paid by bank transfer (reg 7.2), and a few people with a
disability are granted a free slot (reg 7.13).

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
Channel = Literal["online", "corporate", "free_slot"]
"""How the entry is made and paid: on the site, on a company's list (reg 7.2), or on an
organizer's grant from the free-slot pool (reg 7.13)."""
COMPANY = "Almaty Tech Park LLP"

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
    channel: Channel = "online"

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
    free_slot_share: float = 0.01,
) -> FieldPlan:
    """``applicants`` people over ``distances`` (default: all), shared as the slot limits are.

    The counts per distance follow the slot limits' proportions (reg 7.6) and never exceed a
    limit, so every payer finds a slot; people who change distance move to one with room.
    With at least twice the corporate minimum of applicants, one company enters that minimum
    of its staff (reg 7.2); ``free_slot_share`` of them (one at least, within the pool) are
    granted a free slot (reg 7.13).
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
    # reg 7.3: one entry per person (name and birth date) and distance; distinct people
    # here, so a large field never draws the same person twice.
    known: set[tuple[str, str, dt.date]] = set()
    for distance, count in zip(chosen, counts, strict=True):
        for _ in range(count):
            number += 1
            person = _person(rng, edition, distance, number)
            while (person.first_name, person.last_name, person.birth_date) in known:
                person = _person(rng, edition, distance, number)
            known.add((person.first_name, person.last_name, person.birth_date))
            people.append(person)
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
    people = _channels(rng, edition, people, free_slot_share)
    return FieldPlan(tuple(people))


def _channels(
    rng: random.Random, edition: Edition, people: list[Person], free_slot_share: float
) -> list[Person]:
    """Who is entered by a company (reg 7.2) and who gets a free slot (reg 7.13), among the
    payers who stay on their distance; a company's list cannot carry a 3000 m entry, whose
    qualifying result is checked one by one (reg 4.2.3)."""
    registration = edition.registration
    steady = [
        i for i, p in enumerate(people) if p.behaviour == "pays" and p.races_distance == p.distance
    ]
    corporate_size = registration.corporate_min_participants
    listable = [i for i in steady if people[i].qualifying_time_us is None]
    corporate: set[int] = set()
    if len(people) >= 2 * corporate_size and len(listable) >= corporate_size:
        corporate = set(rng.sample(listable, corporate_size))
    others = [i for i in steady if i not in corporate]
    wanted = min(registration.free_slots, max(1, round(len(people) * free_slot_share)))
    free = set(rng.sample(others, min(wanted, len(others))))
    return [
        replace(
            p, channel="corporate" if i in corporate else "free_slot" if i in free else "online"
        )
        for i, p in enumerate(people)
    ]


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


# --- teams (reg 4.2.4) and relay teams (RULES §8) ----------------------------------------


@dataclass(frozen=True)
class TeamLine:
    """One line of a team application form: full name, BIB, declared distance (reg 4.2.4)."""

    full_name: str
    bib: int
    distance: str
    gender: Literal["M", "F"]


@dataclass(frozen=True)
class TeamPlan:
    team_name: str
    classification: str
    entries: tuple[TeamLine, ...]


def plan_teams(
    edition: Edition, participants: list[tuple[Person, int]], seed: int, *, per_team: int = 30
) -> list[TeamPlan]:
    """Team applications of each classification: one team for about every ``per_team``
    participants of its distances, each of exactly the edition's men and women (reg 4.2.4),
    drawn from the same club where there are enough; a person runs for one team per
    classification, so nobody is listed twice in one."""
    rng = random.Random(f"{seed}/teams")
    rules = edition.teams
    wanted = {"M": rules.men_per_team, "F": rules.women_per_team}
    plans: list[TeamPlan] = []
    for classification in rules.classifications:
        pool: dict[str, list[tuple[Person, int]]] = {"M": [], "F": []}
        for person, bib in participants:
            if person.races_distance in classification.distances:
                pool[person.gender].append((person, bib))
        for gender in pool:
            pool[gender].sort(key=lambda item: (item[0].club or "~", rng.random()))
        count = min(
            len(pool["M"]) // wanted["M"],
            len(pool["F"]) // wanted["F"],
            max(1, (len(pool["M"]) + len(pool["F"])) // per_team),
        )
        for number in range(1, count + 1):
            members = [pool[g].pop(0) for g in ("M", "F") for _ in range(wanted[g])]
            clubs = {p.club for p, _ in members if p.club}
            name = f"{clubs.pop()} {number}" if len(clubs) == 1 else f"Copa Friends {number}"
            entries = tuple(
                TeamLine(p.full_name, bib, p.races_distance, p.gender) for p, bib in members
            )
            plans.append(TeamPlan(f"{name} ({classification.name})", classification.code, entries))
    return plans


@dataclass(frozen=True)
class RelayRunnerPlan:
    first_name: str
    last_name: str
    gender: Literal["M", "F"]
    birth_date: dt.date
    email: str
    leg_us: int
    """The time they run their leg in."""


@dataclass(frozen=True)
class RelayPlan:
    number: int
    team_name: str
    runners: tuple[RelayRunnerPlan, ...]
    """In leg order (RULES §8: 800, 400, 200, 100 m)."""

    @property
    def captain(self) -> RelayRunnerPlan:
        return self.runners[0]


# Typical leg times of an amateur man (seconds); women a little slower.
_LEG_LEVEL_S = {800: 150.0, 400: 66.0, 200: 30.0, 100: 14.0}


def plan_relay(edition: Edition, teams: int, seed: int) -> list[RelayPlan]:
    """``teams`` relay teams of four, mixed, each runner with a time for their leg."""
    rng = random.Random(f"{seed}/relay")
    plans = []
    for number in range(1, teams + 1):
        runners = []
        for leg, length in enumerate(edition.relay.legs_m, start=1):
            gender: Literal["M", "F"] = "M" if leg % 2 else "F"
            level = _LEG_LEVEL_S.get(length, length * 0.18) * (1.12 if gender == "F" else 1.0)
            age = rng.randint(edition.minimum_age + 1, 45)
            runners.append(
                RelayRunnerPlan(
                    rng.choice(FIRST_NAMES[gender]),
                    rng.choice(LAST_NAMES) + ("a" if gender == "F" else ""),
                    gender,
                    _same_day(edition.date, edition.date.year - age) - dt.timedelta(days=30),
                    f"relay{number:03d}-{leg}@sim.copa.example",
                    int(rng.gauss(level, level * 0.06) * 1_000_000),
                )
            )
        plans.append(RelayPlan(number, f"Relay Sim {number:02d}", tuple(runners)))
    return plans
