"""Who goes through to the final (reg 11.3.2, 11.3.3; RULES §5; WA TR 21).

General WA form: the first K of each race by place (`Q`), then the next M fastest by time
across all races (`q`). Copa Run's rules are K = 0 with M the final's size: the 8 fastest for
100 m, the 20 fastest for 1000 m (:meth:`AdvancementRule.copa`).

Ties for the last spot: the raw times are compared at 1/1000 s (RULES §5); runners still tied
all go through if there is room (the next round has no lane limit, as 1000 m), otherwise lots
are drawn from a recorded seed, and the lot is part of the result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from copa_contracts.edition import Lanes, RaceDivision, ResultRules
from copa_ranking.engine.places import RaceLine, RaceResult
from copa_ranking.engine.terms import Bib, EngineError, QualifierMark, RaceId
from copa_ranking.engine.times import tie_key_us


@dataclass(frozen=True, slots=True)
class AdvancementRule:
    """K by place per race, M by time, and the room of the next round (None: no limit)."""

    by_place: int
    by_time: int
    room: int | None = None

    def __post_init__(self) -> None:
        if self.by_place < 0 or self.by_time < 0:
            raise EngineError("qualifying numbers cannot be negative")
        if self.room is not None and self.room < 0:
            raise EngineError("room cannot be negative")

    @classmethod
    def copa(cls, division: RaceDivision, lanes: Lanes) -> AdvancementRule:
        """reg 11.3.2, 11.3.3: the ``final_size`` fastest by time; room = lanes if in lanes."""
        if division.final_size is None:
            raise EngineError("this distance has no final (reg 11.3.4)")
        return cls(0, division.final_size, lanes.count if division.in_lanes else None)


@dataclass(frozen=True, slots=True)
class Qualifier:
    """A runner through to the next round, and how (`Q` by place, `q` by time)."""

    bib: Bib
    mark: QualifierMark
    race_id: RaceId
    place: int
    """Place in the round-1 race."""
    gun_time_us: int
    """Round-1 raw gun time (the final's ranking for lanes, RULES §5)."""


@dataclass(frozen=True, slots=True)
class Lot:
    """A recorded drawing of lots between tied runners (RULES §5: reproducible from seed)."""

    reason: str
    tied: tuple[Bib, ...]
    drawn: tuple[Bib, ...]
    """Those the lot sent through."""
    seed: str


@dataclass(frozen=True, slots=True)
class Advancement:
    """The qualifiers, ranked (`Q` by place then time, then `q` by time), and any lots."""

    qualifiers: tuple[Qualifier, ...]
    lots: tuple[Lot, ...] = ()

    @property
    def bibs(self) -> tuple[Bib, ...]:
        return tuple(q.bib for q in self.qualifiers)

    def mark_of(self, bib: Bib) -> QualifierMark | None:
        """`Q`, `q` or ``None``: the mark shown next to a round-1 result (RULES §6)."""
        for qualifier in self.qualifiers:
            if qualifier.bib == bib:
                return qualifier.mark
        return None


def select_qualifiers(
    first_round: Sequence[RaceResult],
    rule: AdvancementRule,
    results: ResultRules,
    seed: str,
) -> Advancement:
    """The qualifiers of a round (RULES §5, WA TR 21); only finishers can qualify."""
    entries: list[tuple[RaceId, RaceLine]] = []
    seen: set[Bib] = set()
    for race in first_round:
        for line in race.finishers:
            if line.bib in seen:
                raise EngineError(f"BIB {line.bib} finished two races of one round")
            if line.place is None or line.gun_time_us is None:
                raise EngineError(f"BIB {line.bib}: a finisher needs a place and a time")
            seen.add(line.bib)
            entries.append((race.race_id, line))

    def key(entry: tuple[RaceId, RaceLine]) -> int:
        time = entry[1].gun_time_us
        return tie_key_us(time if time is not None else 0, results)

    lots: list[Lot] = []
    by_place: list[tuple[RaceId, RaceLine]] = []
    by_race: dict[RaceId, list[tuple[RaceId, RaceLine]]] = {}
    for entry in entries:
        by_race.setdefault(entry[0], []).append(entry)
    place_of = {e[1].bib: e[1].place or 0 for e in entries}
    capacity = rule.room
    overflow_so_far = 0
    for race_id, race_entries in by_race.items():
        if rule.by_place == 0:
            continue
        ranked = sorted(race_entries, key=lambda e: (place_of[e[1].bib], e[1].bib))
        taken = [e for e in ranked if place_of[e[1].bib] <= rule.by_place]
        if len(taken) <= rule.by_place:
            by_place.extend(taken)
            continue
        # WA TR 21: a tie for the last place by position: all go if there is room.
        last = place_of[taken[rule.by_place - 1][1].bib]
        sure = [e for e in taken if place_of[e[1].bib] < last]
        tied = [e for e in taken if place_of[e[1].bib] == last]
        overflow = len(taken) - rule.by_place
        needed = len(by_race) * rule.by_place + rule.by_time + overflow_so_far + overflow
        if capacity is None or needed <= capacity:
            overflow_so_far += overflow
            by_place.extend(taken)
            continue
        drawn = _draw(tied, rule.by_place - len(sure), f"{seed}/Q/{race_id}", lots, race_id)
        by_place.extend(sure + drawn)

    through = {e[1].bib for e in by_place}
    pool = sorted((e for e in entries if e[1].bib not in through), key=lambda e: (key(e), e[1].bib))
    by_time: list[tuple[RaceId, RaceLine]] = []
    if rule.by_time and pool:
        if len(pool) <= rule.by_time:
            by_time = pool
        else:
            cutoff = key(pool[rule.by_time - 1])
            better = [e for e in pool if key(e) < cutoff]
            tied = [e for e in pool if key(e) == cutoff]
            slots = rule.by_time - len(better)
            everyone = len(by_place) + len(better) + len(tied)
            if len(tied) <= slots or capacity is None or everyone <= capacity:
                # RULES §5: still tied at 1/1000 s: all go through where there is room.
                by_time = better + tied
            else:
                by_time = better + _draw(tied, slots, f"{seed}/q", lots, None)

    qualifiers = [
        _qualifier(e, "Q")
        for e in sorted(by_place, key=lambda e: (place_of[e[1].bib], key(e), e[1].bib))
    ]
    qualifiers.extend(_qualifier(e, "q") for e in sorted(by_time, key=lambda e: (key(e), e[1].bib)))
    return Advancement(tuple(qualifiers), tuple(lots))


def _draw(
    tied: list[tuple[RaceId, RaceLine]],
    slots: int,
    seed: str,
    lots: list[Lot],
    race_id: RaceId | None,
) -> list[tuple[RaceId, RaceLine]]:
    # RULES §5: no room for all: lots are drawn, reproducibly, and the draw is recorded.
    candidates = sorted(tied, key=lambda e: e[1].bib)
    chosen = random.Random(seed).sample(candidates, slots)
    where = f" in race {race_id}" if race_id is not None else ""
    lots.append(
        Lot(
            reason=f"{len(candidates)} tied for the last {slots} place(s){where}",
            tied=tuple(e[1].bib for e in candidates),
            drawn=tuple(sorted(e[1].bib for e in chosen)),
            seed=seed,
        )
    )
    return chosen


def _qualifier(entry: tuple[RaceId, RaceLine], mark: QualifierMark) -> Qualifier:
    race_id, line = entry
    if line.place is None or line.gun_time_us is None:
        raise EngineError(f"BIB {line.bib}: a qualifier needs a place and a time")
    return Qualifier(line.bib, mark, race_id, line.place, line.gun_time_us)


__all__ = ["Advancement", "AdvancementRule", "Lot", "Qualifier", "select_qualifiers"]
