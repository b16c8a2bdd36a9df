"""Division of a race group into races, and the draw that places runners in them (reg 11.3).

RULES §5 resolves reg 11.3.2-11.3.6 as :class:`copa_contracts.edition.RaceDivision` states
them, with N the group's confirmed starters:

* N <= ``race_max``: one race, the final (reg 11.3.2, 11.3.3). Without a final in the
  format (3000 m, reg 11.3.4) that race is a timed final;
* N <= ``one_round_max``: one round of balanced races placed by time across them
  (reg 11.3.6: 100 m with 9-12 runners runs two races);
* otherwise round 1 in balanced races of at most ``race_max``, then a final of the
  ``final_size`` fastest by time (reg 11.3.2: 8 for 100 m; 11.3.3: 20 for 1000 m); without a
  ``final_size`` (3000 m, reg 11.3.4) the one round is a timed final.

The draw of round 1 is random from a recorded seed string (the same seed gives the same races,
whatever order the entrants come in), or serpentine by seed time when entries carry one
(RULES §5).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from copa_contracts.edition import Lanes, RaceDivision, ResultRules
from copa_ranking.engine.advancement import Advancement
from copa_ranking.engine.groups import Entrant, RaceGroup, require_unique
from copa_ranking.engine.lanes import draw_final_lanes, draw_lanes_by_lot
from copa_ranking.engine.terms import Bib, EngineError, RoundKind
from copa_ranking.engine.times import tie_key_us

Seeding = Literal["random_draw", "serpentine", "by_round_1_time"]
"""How places in races were given (`copa_contracts.ranking.StartListPublished.seeding`)."""


@dataclass(frozen=True, slots=True)
class GroupFormat:
    """How a group of ``starters`` runs (reg 11.3.2-11.3.6 as RULES §5 resolves them)."""

    starters: int
    first_round: RoundKind
    """``final`` (one race decides), ``timed_final`` (one round by time) or ``heat``."""
    race_sizes: tuple[int, ...]
    """Runners per race of the first round, balanced (they differ by at most one)."""
    final_size: int | None = None
    """Runners of the final, when the first round is heats."""

    @property
    def has_final(self) -> bool:
        return self.first_round == "heat"

    @property
    def race_count(self) -> int:
        """All races of the group: the first round and the final if there is one."""
        return len(self.race_sizes) + (1 if self.has_final else 0)


def balanced_sizes(runners: int, race_max: int) -> tuple[int, ...]:
    """The fewest races of at most ``race_max`` whose sizes differ by at most one (RULES §5).

    The larger races come first: 9 runners in races of 8 are 5 + 4.
    """
    if runners < 0 or race_max < 1:
        raise EngineError(f"cannot divide {runners} runners into races of {race_max}")
    if runners == 0:
        return ()
    races = -(-runners // race_max)
    base, extra = divmod(runners, races)
    return tuple(base + 1 if i < extra else base for i in range(races))


def plan_group(starters: int, division: RaceDivision) -> GroupFormat:
    """The format of a group of ``starters`` confirmed starters (reg 11.3, RULES §5)."""
    sizes = balanced_sizes(starters, division.race_max)
    if starters == 0:
        return GroupFormat(0, "timed_final", ())
    if division.final_size is None:
        # reg 11.3.4: races of at most 25, one round, places by time across all races.
        return GroupFormat(starters, "timed_final", sizes)
    if starters <= division.race_max:
        # reg 11.3.2, 11.3.3: few enough for one race: "a final competition at once".
        return GroupFormat(starters, "final", sizes)
    if division.one_round_max is not None and starters <= division.one_round_max:
        # reg 11.3.6: up to 12 runners, "the finals will be held in one round" (RULES §5).
        return GroupFormat(starters, "timed_final", sizes)
    # reg 11.3.2, 11.3.3: round 1, then the fastest by time run the final.
    return GroupFormat(starters, "heat", sizes, min(division.final_size, starters))


@dataclass(frozen=True, slots=True)
class StartPosition:
    """One line of a start list: position in the draw's order, BIB, lane (100 m)."""

    position: int
    bib: Bib
    lane: int | None = None
    seed_time_us: int | None = None
    """Seed time of the entry, or the round-1 time a finalist qualified with."""


@dataclass(frozen=True, slots=True)
class DrawnRace:
    """One race of a group as drawn: its round, its number within the round, its start list."""

    round: RoundKind
    heat_number: int
    start_list: tuple[StartPosition, ...]

    @property
    def bibs(self) -> tuple[Bib, ...]:
        return tuple(position.bib for position in self.start_list)


@dataclass(frozen=True, slots=True)
class GroupDraw:
    """The first round of a group as drawn, with what reproduces it (RULES §5: auditable)."""

    group: RaceGroup
    format: GroupFormat
    seeding: Seeding
    seed: str
    """The recorded seed: the same seed and entrants give the same races and lanes."""
    races: tuple[DrawnRace, ...]


def draw_group(
    group: RaceGroup,
    entrants: Iterable[Entrant],
    division: RaceDivision,
    seed: str,
    lanes: Lanes | None = None,
) -> GroupDraw:
    """Divide a group into the races of its first round and draw who runs where (RULES §5).

    Random draw from ``seed`` unless some entry carries a seed time; then serpentine by seed
    time (entries without one rank after those with one, in an order drawn by lot, and equal
    seed times are ordered by lot too). Races run in lanes (100 m) get lanes by lot
    (``lanes`` is then required).
    """
    listed = require_unique(entrants)
    if division.in_lanes and lanes is None:
        raise EngineError(f"{group}: races run in lanes need the lane configuration")
    group_format = plan_group(len(listed), division)
    rng = random.Random(seed)
    # Sorting first makes the draw depend on the seed and the set of entrants, not their order.
    by_bib = sorted(listed, key=lambda entrant: entrant.bib)
    lots = {entrant.bib: rng.random() for entrant in by_bib}
    serpentine = any(entrant.seed_time_us is not None for entrant in by_bib)
    if serpentine:
        ranked = sorted(
            by_bib,
            key=lambda e: (e.seed_time_us is None, e.seed_time_us or 0, lots[e.bib]),
        )
        races = _deal_serpentine(ranked, group_format.race_sizes)
    else:
        shuffled = sorted(by_bib, key=lambda e: lots[e.bib])
        races = _deal_in_order(shuffled, group_format.race_sizes)
    drawn = tuple(
        _start_list(
            group_format.first_round,
            number,
            race,
            lanes if division.in_lanes else None,
            f"{seed}/lanes/{number}",
        )
        for number, race in enumerate(races, start=1)
    )
    return GroupDraw(
        group=group,
        format=group_format,
        seeding="serpentine" if serpentine else "random_draw",
        seed=seed,
        races=drawn,
    )


def draw_final(
    advancement: Advancement,
    division: RaceDivision,
    results: ResultRules,
    seed: str,
    lanes: Lanes | None = None,
) -> DrawnRace:
    """The final's start list: qualifiers ranked by round-1 result, lanes by the table.

    RULES §5: rank the qualifiers by round-1 time (in WA form, `Q` by place first, then `q` by
    time); runners equal at the tie resolution are ordered by lot from ``seed``; in lanes,
    tiers of the lane table are drawn by lot (:func:`draw_final_lanes`).
    """
    if division.in_lanes and lanes is None:
        raise EngineError("a final run in lanes needs the lane configuration")
    rng = random.Random(seed)
    qualifiers = sorted(advancement.qualifiers, key=lambda q: q.bib)
    lots = {q.bib: rng.random() for q in qualifiers}
    ranked = sorted(
        qualifiers,
        key=lambda q: (
            q.mark != "Q",
            q.place if q.mark == "Q" else 0,
            tie_key_us(q.gun_time_us, results),
            lots[q.bib],
        ),
    )
    bibs = [q.bib for q in ranked]
    lane_of: dict[Bib, int] = (
        draw_final_lanes(bibs, lanes, f"{seed}/lanes") if division.in_lanes and lanes else {}
    )
    start_list = tuple(
        StartPosition(position, q.bib, lane_of.get(q.bib), q.gun_time_us)
        for position, q in enumerate(ranked, start=1)
    )
    return DrawnRace("final", 1, start_list)


def _deal_in_order(ranked: Sequence[Entrant], sizes: Sequence[int]) -> list[list[Entrant]]:
    races: list[list[Entrant]] = []
    start = 0
    for size in sizes:
        races.append(list(ranked[start : start + size]))
        start += size
    return races


def _deal_serpentine(ranked: Sequence[Entrant], sizes: Sequence[int]) -> list[list[Entrant]]:
    """Serpentine: 1st to race 1, ..., k-th to race k, (k+1)-th to race k, ... (WA TR 20).

    A race already full is skipped, so the races keep the balanced ``sizes``.
    """
    races: list[list[Entrant]] = [[] for _ in sizes]
    count = len(sizes)
    turn = 0
    for entrant in ranked:
        while True:
            row, column = divmod(turn, count)
            index = column if row % 2 == 0 else count - 1 - column
            turn += 1
            if len(races[index]) < sizes[index]:
                races[index].append(entrant)
                break
    return races


def _start_list(
    round_kind: RoundKind,
    number: int,
    race: Sequence[Entrant],
    lanes: Lanes | None,
    lane_seed: str,
) -> DrawnRace:
    # RULES §5: round-1 lanes by lot, each race with its own seed derived from the group's.
    lane_of = draw_lanes_by_lot([e.bib for e in race], lanes, lane_seed) if lanes else {}
    return DrawnRace(
        round_kind,
        number,
        tuple(
            StartPosition(position, e.bib, lane_of.get(e.bib), e.seed_time_us)
            for position, e in enumerate(race, start=1)
        ),
    )


__all__ = [
    "DrawnRace",
    "GroupDraw",
    "GroupFormat",
    "Seeding",
    "StartPosition",
    "balanced_sizes",
    "draw_final",
    "draw_group",
    "plan_group",
]
