"""Standings: the final places of a group, of a gender overall, and the winners (reg 11).

* A group with heats and a final (reg 11.3.2, 11.3.3): the final gives the first places
  (1-8 for 100 m, 1-20 for 1000 m) by its finish order; everyone else is placed after the
  final's runners by round-1 time across the heats.
* A timed final (reg 11.3.4, 11.3.6; the relay, RULES §8): places by raw time across all
  races of the one round; a single race keeps its own finish order (photo-finish first).
* Per gender overall (reg 4.2.4, RULES §7): every runner of a distance and gender, across
  categories, by the gun time of the result that placed them in their category.
* Winners: the top 3 per category by gun time (reg 11.1, 11.2, 11.3.4; config
  ``prize_places``); a shared third place makes both prize-winners.
* Any field by time (:func:`rank_by_time`): the entries of several races, categories or
  genders ranked together, by gun time (official) or net time (information, RULES §6), as the
  judges' desk command line ranks a results file (issue 5).

Equal raw times (at 1/1000 s) share a place; DNF, DQ, DNS have none and follow the finishers
(RULES §6). Standings are ``provisional`` until every race they rest on is ``official``.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Final, Literal, NamedTuple, ParamSpec, TypeVar

from copa_contracts.edition import ResultRules
from copa_ranking.engine.draw import GroupFormat
from copa_ranking.engine.groups import RaceGroup
from copa_ranking.engine.places import RaceLine, RaceResult
from copa_ranking.engine.terms import (
    NON_FINISHER_ORDER,
    Bib,
    EngineError,
    Gender,
    PublicationStatus,
    RaceGender,
    RaceId,
    ResultStatus,
    TimeSource,
    status_text,
)


class StandingEntry(NamedTuple):
    """One runner's line in a standings table.

    A named tuple rather than a frozen dataclass: standings are recomputed for every runner
    of a distance on each change (50,000 in a city race), and a tuple is built several times
    faster; it is just as immutable.
    """

    place: int | None
    bib: Bib
    category: str
    status: ResultStatus | None
    gun_time_us: int | None = None
    """The raw gun time the place comes from (reg 11.4)."""
    official_time_us: int | None = None
    net_time_us: int | None = None
    source: TimeSource | None = None
    dq_rule: str | None = None
    race_id: RaceId | None = None
    """The race the result was set in (the final, or a round-1 race)."""

    @property
    def status_text(self) -> str:
        return status_text(self.status, self.dq_rule)


TimeBasis = Literal["gun", "net"]
"""The time a field is ranked by: the gun time, official (reg 11.4, RULES §6), or the net
time from the runner's own start-line crossing, shown as information (RULES §6)."""


@dataclass(frozen=True, slots=True)
class Standings:
    """The standings of a distance and gender, for one category or (``None``) all of them."""

    distance: str
    gender: RaceGender
    category: str | None
    status: PublicationStatus
    entries: tuple[StandingEntry, ...]

    @property
    def entrants_count(self) -> int:
        """Participants of these standings, starters and non-starters (reg 4.2.4 penalty)."""
        return len(self.entries)

    def winners(self, results: ResultRules) -> tuple[StandingEntry, ...]:
        """The prize-winners: places 1 to ``prize_places`` (reg 11.1, 11.2, 11.3.4)."""
        return tuple(
            e for e in self.entries if e.place is not None and e.place <= results.prize_places
        )

    def entry_of(self, bib: Bib) -> StandingEntry:
        for entry in self.entries:
            if entry.bib == bib:
                return entry
        raise KeyError(bib)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _without_gc_pauses(compute: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a standings computation with the cyclic garbage collector paused.

    A table of 50,000 runners allocates 50,000 entry tuples; each 700 allocations the collector
    would walk the young objects, and now and then every race line kept alive: a third of the
    time (issue 5 bench, ``--gc-off``). The entries form no reference cycles, so nothing is
    left for the collector to find; it runs again as usual once the table is built.
    """

    @functools.wraps(compute)
    def paused(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not gc.isenabled():
            return compute(*args, **kwargs)
        gc.disable()
        try:
            return compute(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@_without_gc_pauses
def group_standings(
    group: RaceGroup,
    group_format: GroupFormat,
    first_round: Sequence[RaceResult],
    results: ResultRules,
    final: RaceResult | None = None,
) -> Standings:
    """The standings of one race group (reg 11.3.2-11.3.4, 11.3.6; RULES §5, §8).

    ``first_round``: the results of the round-1 races run so far; ``final``: the final's,
    once run. Official when every race of the format is present and official.
    """
    if final is not None and not group_format.has_final:
        raise EngineError(f"{group}: a {group_format.first_round} round has no final")
    race_of: dict[Bib, RaceId] = {}
    finished: list[_Row] = []
    others: list[RaceLine] = []
    listed = 0
    for race in first_round:
        race_id = race.race_id
        lines = race.lines
        listed += len(lines)
        for line in lines:
            race_of[line.bib] = race_id
            if line.status == "OK":
                finished.append((line.gun_time_us or 0, race_id, line))
            else:
                others.append(line)
    if len(race_of) != listed:
        raise EngineError(f"{group}: a BIB appears in two races of round 1")

    races = [*first_round, *([final] if final is not None else [])]
    complete = len(first_round) == len(group_format.race_sizes) and (
        final is not None or not group_format.has_final
    )
    status: PublicationStatus = (
        "official" if complete and all(r.status == "official" for r in races) else "provisional"
    )

    category = group.category
    if final is not None:
        unknown = [bib for bib in final.bibs if bib not in race_of]
        if unknown:
            raise EngineError(f"{group}: finalists {sorted(unknown)} ran no round-1 race")
        in_final = set(final.bibs)
        for line in final.lines:
            race_of[line.bib] = final.race_id
        # reg 11.3.2, 11.3.3: the final decides the first places by its finish order...
        entries = [_entry(line, line.place, category, final.race_id) for line in final.finishers]
        # ... and round-1 times place the others after every runner of the final.
        rest = [row for row in finished if row[2].bib not in in_final]
        entries += _by_time(rest, category, results, offset=len(final.lines))
        others = [
            *(line for line in final.lines if line.status != "OK"),
            *(line for line in others if line.bib not in in_final),
        ]
    elif len(first_round) == 1:
        # One race decides alone: its finish order (a photo-finish beats chips, RULES §6).
        race = first_round[0]
        entries = [_entry(line, line.place, category, race.race_id) for line in race.finishers]
    else:
        # reg 11.3.4, 11.3.6: places from times across all races of the round.
        entries = _by_time(finished, category, results, offset=0)

    others.sort(key=lambda line: (NON_FINISHER_ORDER[line.status], line.bib))
    entries += [_entry(line, None, category, race_of[line.bib]) for line in others]
    return Standings(group.distance, group.gender, group.category, status, tuple(entries))


@_without_gc_pauses
def gender_standings(
    distance: str,
    gender: Gender,
    categories: Iterable[Standings],
    results: ResultRules,
    basis: TimeBasis = "gun",
) -> Standings:
    """All categories of a distance and gender together (reg 4.2.4, RULES §7).

    A finisher is ranked by the gun time that placed them in their category (the final's time
    for a finalist, else the round-1 time); equal raw times share a place. Official when every
    category's standings are. ``basis="net"`` ranks by net time instead, for information
    (RULES §6; see :func:`rank_by_time`).
    """
    tables = list(categories)
    for table in tables:
        if table.distance != distance or table.gender != gender:
            raise EngineError(f"{table.distance} {table.gender} standings in {distance} {gender}")
    entries = list(chain.from_iterable(t.entries for t in tables))
    if len({e[_BIB] for e in entries}) != len(entries):
        raise EngineError(f"{distance} {gender}: a BIB appears in two categories")
    ranked = _rank(entries, results, basis)
    status: PublicationStatus = (
        "official" if tables and all(t.status == "official" for t in tables) else "provisional"
    )
    return Standings(distance, gender, None, status, ranked)


@_without_gc_pauses
def rank_by_time(
    entries: Iterable[StandingEntry],
    results: ResultRules,
    basis: TimeBasis = "gun",
) -> tuple[StandingEntry, ...]:
    """A field ranked by raw time, whatever races, categories or genders its entries ran in.

    Finishers are placed by the raw ``basis`` time compared at 1/1000 s (RULES §5, §6); equal
    times share a place (1, 2, 2, 4); ties are listed by BIB. A finisher without a time of
    that basis (no net time: the start mat missed the chip) cannot be ranked by it: no place,
    listed after the placed finishers with the runners still without a result, then DNF, DQ,
    DNS (RULES §6), each by BIB. Every other field of an entry is kept as it is.
    """
    listed = list(entries)
    if len({e[_BIB] for e in listed}) != len(listed):
        raise EngineError("a BIB appears twice in one field")
    return _rank(listed, results, basis)


_UNPLACED_ORDER: Final[dict[str | None, int]] = {**NON_FINISHER_ORDER, "OK": 0}
"""A finisher without the ranking time waits with those without a result (RULES §6)."""


def _rank(
    entries: list[StandingEntry], results: ResultRules, basis: TimeBasis
) -> tuple[StandingEntry, ...]:
    resolution = results.tie_resolution_us
    at: Literal[4, 6] = _GUN if basis == "gun" else _NET
    timed: list[StandingEntry] = []
    unplaced: list[StandingEntry] = []
    for e in entries:
        if e[_STATUS] == "OK" and e[at] is not None:
            timed.append(e)
        else:
            unplaced.append(e)
    # by raw time alone, as in _by_time; the runners sharing a place are listed by BIB after
    timed.sort(key=itemgetter(at))
    ranked: list[StandingEntry] = []
    shared: list[int] = []
    previous = None
    place = 0
    for index, entry in enumerate(timed, start=1):
        tie = -(-(entry[at] or 0) // resolution)
        if tie != previous:
            place, previous = index, tie
        else:
            shared.append(place)
        # a new place on the same line; concatenating is faster than unpacking into a tuple
        ranked.append(_new_entry(StandingEntry, (place,) + entry[1:]))  # noqa: RUF005
    _list_shared_places_by_bib(ranked, shared, first_place=1)
    unplaced.sort(key=lambda e: (_UNPLACED_ORDER[e.status], e.bib))
    ranked.extend(
        e if e.place is None else _new_entry(StandingEntry, (None,) + e[1:])  # noqa: RUF005
        for e in unplaced
    )
    return tuple(ranked)


def winners(standings: Standings, results: ResultRules) -> tuple[StandingEntry, ...]:
    """The prize-winners of a category (reg 11.1, 11.2, 11.3.4): see :meth:`Standings.winners`."""
    return standings.winners(results)


def _by_time(
    rows: list[_Row], category: str, results: ResultRules, offset: int
) -> list[StandingEntry]:
    """Finishers by raw time across races, equal at 1/1000 s sharing, places from offset + 1.

    The hot path of every recomputation (issue 5 bench: 50,000 runners), kept close to a
    plain sort of the times: the tie key made in the pass that places, one sort on one
    integer, each entry built from a tuple of its fields.
    """
    resolution = results.tie_resolution_us
    rows.sort(key=_GUN_TIME)
    entries: list[StandingEntry] = []
    shared: list[int] = []
    previous = None
    place = 0
    for index, (gun, race_id, line) in enumerate(rows, start=offset + 1):
        tie = -(-gun // resolution)
        if tie != previous:
            place, previous = index, tie
        else:
            shared.append(place)
        entries.append(
            _new_entry(
                StandingEntry,
                (
                    place,
                    line.bib,
                    category,
                    "OK",
                    gun,
                    line.official_time_us,
                    line.net_time_us,
                    line.source,
                    None,
                    race_id,
                ),
            )
        )
    _list_shared_places_by_bib(entries, shared, first_place=offset + 1)
    return entries


_Row = tuple[int, RaceId, RaceLine]
"""A finisher of a group as it is sorted: raw gun time, the race, the line."""

_GUN_TIME: Final = itemgetter(0)
"""Rows are sorted by raw time alone, an order of the tie keys too (rounding up keeps it): a
sort on one integer compares each pair once, where a sort on (tie key, BIB) tuples compares
twice (half the sort's time, issue 5 bench); the few runners sharing a place are then listed
by BIB (:func:`_list_shared_places_by_bib`)."""

_new_entry: Final = tuple.__new__
"""An entry straight from a tuple of its fields: ``StandingEntry(...)`` goes through the named
tuple's generated ``__new__``, a Python call of its own per entry (a third of the time of
building the entries, issue 5 bench). The result is a StandingEntry all the same."""

# Fields read by position in the hot loops: a subscript of a named tuple is faster than its
# named field, a descriptor call (checked against StandingEntry._fields by the tests).
_BIB: Final = 1
_STATUS: Final = 3
_GUN: Final = 4
_NET: Final = 6

_by_bib: Final = itemgetter(_BIB)


def _list_shared_places_by_bib(
    entries: list[StandingEntry], shared: Iterable[int], first_place: int
) -> None:
    """List the runners of each shared place by BIB (RULES §6), in place.

    ``entries`` are in place order, sorted by raw time alone (those sharing a place in the
    order of their raw times); ``shared`` names the places given to more than one runner (a
    place may repeat), ``first_place`` is the place of ``entries[0]``.
    """
    for place in dict.fromkeys(shared):
        start = place - first_place
        end = start + 1
        while end < len(entries) and entries[end][0] == place:
            end += 1
        entries[start:end] = sorted(entries[start:end], key=_by_bib)


def _entry(line: RaceLine, place: int | None, category: str, race_id: RaceId) -> StandingEntry:
    fields = (
        place,
        line.bib,
        category,
        line.status,
        line.gun_time_us,
        line.official_time_us,
        line.net_time_us,
        line.source,
        line.dq_rule,
        race_id,
    )
    return _new_entry(StandingEntry, fields)


__all__ = [
    "StandingEntry",
    "Standings",
    "TimeBasis",
    "gender_standings",
    "group_standings",
    "rank_by_time",
    "winners",
]
