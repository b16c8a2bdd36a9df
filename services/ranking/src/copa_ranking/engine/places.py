"""Places: within a race by finish order, across races by time (RULES §6, reg 11.1, 11.3).

Inside one race places follow the finish order: a judges' or photo-finish order, where there
is one, beats the chips' order, so two runners may share an official (1/100 s) time with
different places. Runners without such an order are placed by their raw time. Equal raw times
(compared at 1/1000 s, :func:`~copa_ranking.engine.times.tie_key_us`) share a place: 1, 2, 2, 4
("standard competition ranking"). DNS, DNF and DQ (with its rule) have no place and follow the
finishers: finishers in place order, then DNF, DQ, DNS (RULES §6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from copa_contracts.edition import ResultRules
from copa_ranking.engine.terms import (
    NON_FINISHER_ORDER,
    Bib,
    EngineError,
    OrderSource,
    PublicationStatus,
    RaceId,
    ResultStatus,
    TimeSource,
    status_text,
)
from copa_ranking.engine.times import Performance, official_time_us, tie_key_us


@dataclass(frozen=True, slots=True)
class RaceLine:
    """One line of a race result (RULES §6 display: place, BIB, gun, net, status)."""

    place: int | None
    bib: Bib
    status: ResultStatus | None
    """``OK``, ``DNF``, ``DQ``, ``DNS``; ``None`` while the runner has no result yet."""
    gun_time_us: int | None = None
    """Raw gun time (reg 11.4: official), to the microsecond."""
    official_time_us: int | None = None
    """Gun time rounded up to 1/100 s: what is shown (RULES §6)."""
    net_time_us: int | None = None
    source: TimeSource | None = None
    """Where the finish time came from (RULES §6: shown with every time)."""
    order_source: OrderSource | None = None
    dq_rule: str | None = None
    reason: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "OK"

    @property
    def status_text(self) -> str:
        """``""``, ``DNF``, ``DNS`` or ``DQ 7.12`` (RULES §6)."""
        return status_text(self.status, self.dq_rule)


@dataclass(frozen=True, slots=True)
class RaceResult:
    """A race's result: lines in display order, and whether it is official (RULES §6)."""

    race_id: RaceId
    lines: tuple[RaceLine, ...]
    status: PublicationStatus = "provisional"

    @property
    def finishers(self) -> tuple[RaceLine, ...]:
        return tuple(line for line in self.lines if line.status == "OK")

    @property
    def complete(self) -> bool:
        """Every runner has a time or a status: the chief judge may confirm the race."""
        return all(line.status is not None for line in self.lines)

    @property
    def bibs(self) -> tuple[Bib, ...]:
        return tuple(line.bib for line in self.lines)

    def line_of(self, bib: Bib) -> RaceLine:
        for line in self.lines:
            if line.bib == bib:
                return line
        raise KeyError(bib)


def confirm(result: RaceResult) -> RaceResult:
    """The chief judge confirms a race: its results become official (reg 11.1, 15.2).

    A race with a runner still without a time or a status cannot be confirmed.
    """
    if not result.complete:
        raise EngineError(f"race {result.race_id}: a runner has no result yet")
    return RaceResult(result.race_id, result.lines, "official")


_Item = TypeVar("_Item")


def competition_places(ordered: Sequence[_Item], tied: Callable[[_Item, _Item], bool]) -> list[int]:
    """Standard competition ranking of items already in order: 1, 2, 2, 4.

    An item shares the place of the one before when ``tied(before, item)``.
    """
    places: list[int] = []
    for index, item in enumerate(ordered):
        if index and tied(ordered[index - 1], item):
            places.append(places[-1])
        else:
            places.append(index + 1)
    return places


def place_race(
    race_id: RaceId,
    performances: Iterable[Performance],
    results: ResultRules,
    status: PublicationStatus = "provisional",
) -> RaceResult:
    """Places within one race by its finish order (RULES §6).

    Runners in a judges' or photo-finish order keep that order among themselves; the others
    are merged in by raw time (a runner goes ahead of an ordered one only with a strictly
    better time). Two ordered runners share a place when their ranks are equal (a dead heat
    on the photo); otherwise neighbours share a place when their raw times are equal at
    1/1000 s. Then runners without a result yet, DNF, DQ, DNS, each by BIB.
    """
    listed = list(performances)
    if len({p.bib for p in listed}) != len(listed):
        raise EngineError(f"race {race_id}: a BIB appears twice")
    finishers = [p for p in listed if p.status == "OK"]
    ordered = sorted(
        (p for p in finishers if p.order_rank is not None),
        key=lambda p: (p.order_rank, _key(p, results), p.bib),
    )
    floating = sorted(
        (p for p in finishers if p.order_rank is None), key=lambda p: (_key(p, results), p.bib)
    )
    order = _merge(ordered, floating, results)

    def tied(before: Performance, after: Performance) -> bool:
        if before.order_rank is not None and after.order_rank is not None:
            return before.order_rank == after.order_rank
        return _key(before, results) == _key(after, results)

    places = competition_places(order, tied)
    lines = [_line(p, place, results) for p, place in zip(order, places, strict=True)]
    rest = sorted(
        (p for p in listed if p.status != "OK"),
        key=lambda p: (NON_FINISHER_ORDER[p.status], p.bib),
    )
    lines.extend(_line(p, None, results) for p in rest)
    return RaceResult(race_id, tuple(lines), status)


def _key(performance: Performance, results: ResultRules) -> int:
    if performance.gun_time_us is None:
        raise EngineError(f"BIB {performance.bib}: only a finisher has a time to compare")
    return tie_key_us(performance.gun_time_us, results)


def _merge(
    ordered: list[Performance], floating: list[Performance], results: ResultRules
) -> list[Performance]:
    merged: list[Performance] = []
    i = j = 0
    while i < len(ordered) and j < len(floating):
        if _key(floating[j], results) < _key(ordered[i], results):
            merged.append(floating[j])
            j += 1
        else:
            merged.append(ordered[i])
            i += 1
    merged.extend(ordered[i:])
    merged.extend(floating[j:])
    return merged


def _line(p: Performance, place: int | None, results: ResultRules) -> RaceLine:
    official = None if p.gun_time_us is None else official_time_us(p.gun_time_us, results)
    return RaceLine(
        place=place,
        bib=p.bib,
        status=p.status,
        gun_time_us=p.gun_time_us,
        official_time_us=official,
        net_time_us=p.net_time_us,
        source=p.source,
        order_source=p.order_source,
        dq_rule=p.dq_rule,
        reason=p.reason,
    )


__all__ = [
    "RaceLine",
    "RaceResult",
    "competition_places",
    "confirm",
    "place_race",
]
