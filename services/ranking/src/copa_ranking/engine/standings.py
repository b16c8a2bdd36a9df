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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import add, itemgetter
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


class StandingLine(NamedTuple):
    """A runner's result as the standings rank it: everything of a table's line but the place.

    A recomputation builds one line per runner, shared by the runner's category table and
    their gender's table (reg 4.2.4, RULES §7), which differ only in order and places: a
    table is its lines in order and their places (:class:`Standings`), so the gender table
    of 50,000 runners is a sort of lines already built and a list of numbers (issue 5 bench).
    A named tuple: built several times faster than a frozen dataclass, just as immutable.
    """

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


class StandingEntry(NamedTuple):
    """One runner's line in a standings table, with its place: the place, then the fields of
    its :class:`StandingLine`, in their order."""

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


@dataclass(frozen=True)
class Standings:
    """The standings of a distance and gender, for one category or (``None``) all of them.

    ``lines`` in place order, finishers first, and ``places[i]`` the place of ``lines[i]``
    (``None``: no place, RULES §6); ``entries`` are the same as table rows with their place.
    """

    distance: str
    gender: RaceGender
    category: str | None
    status: PublicationStatus
    lines: tuple[StandingLine, ...]
    places: tuple[int | None, ...]

    def __post_init__(self) -> None:
        if len(self.lines) != len(self.places):
            raise EngineError(f"{len(self.lines)} standings lines with {len(self.places)} places")

    @classmethod
    def of_entries(
        cls,
        distance: str,
        gender: RaceGender,
        category: str | None,
        status: PublicationStatus,
        entries: Iterable[StandingEntry],
    ) -> Standings:
        """Standings as a table of entries gives them (a stored table, say), in their order."""
        rows = tuple(entries)
        return cls(
            distance,
            gender,
            category,
            status,
            tuple(map(_new_line, repeat(StandingLine), map(_after_place, rows))),
            tuple(map(_place_of, rows)),
        )

    @functools.cached_property
    @_without_gc_pauses
    def entries(self) -> tuple[StandingEntry, ...]:
        """The table's rows: each line with its place in front, built when first read."""
        return tuple(map(_new_entry, repeat(StandingEntry), map(add, zip(self.places), self.lines)))

    @property
    def entrants_count(self) -> int:
        """Participants of these standings, starters and non-starters (reg 4.2.4 penalty)."""
        return len(self.lines)

    def placed(self) -> Iterator[tuple[int | None, StandingLine]]:
        """Each line with its place, in the table's order, without building the entries."""
        return zip(self.places, self.lines, strict=True)

    def winners(self, results: ResultRules) -> tuple[StandingEntry, ...]:
        """The prize-winners: places 1 to ``prize_places`` (reg 11.1, 11.2, 11.3.4)."""
        prize = results.prize_places
        return tuple(
            _new_entry(StandingEntry, (place, *line))
            for place, line in self.placed()
            if place is not None and place <= prize
        )

    def entry_of(self, bib: Bib) -> StandingEntry:
        for place, line in self.placed():
            if line.bib == bib:
                return _new_entry(StandingEntry, (place, *line))
        raise KeyError(bib)


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
    table: list[StandingLine]
    places: list[int | None]
    if final is not None:
        unknown = [bib for bib in final.bibs if bib not in race_of]
        if unknown:
            raise EngineError(f"{group}: finalists {sorted(unknown)} ran no round-1 race")
        in_final = set(final.bibs)
        for line in final.lines:
            race_of[line.bib] = final.race_id
        # reg 11.3.2, 11.3.3: the final decides the first places by its finish order...
        table = [_line(line, category, final.race_id) for line in final.finishers]
        places = [line.place for line in final.finishers]
        # ... and round-1 times place the others after every runner of the final.
        rest = [row for row in finished if row[2].bib not in in_final]
        by_time, time_places = _by_time(rest, category, results, offset=len(final.lines))
        table += by_time
        places += time_places
        others = [
            *(line for line in final.lines if line.status != "OK"),
            *(line for line in others if line.bib not in in_final),
        ]
    elif len(first_round) == 1:
        # One race decides alone: its finish order (a photo-finish beats chips, RULES §6).
        race = first_round[0]
        table = [_line(line, category, race.race_id) for line in race.finishers]
        places = [line.place for line in race.finishers]
    else:
        # reg 11.3.4, 11.3.6: places from times across all races of the round.
        table, time_places = _by_time(finished, category, results, offset=0)
        places = [*time_places]

    others.sort(key=lambda line: (NON_FINISHER_ORDER[line.status], line.bib))
    table += [_line(line, category, race_of[line.bib]) for line in others]
    places += [None] * len(others)
    return Standings(
        group.distance, group.gender, group.category, status, tuple(table), tuple(places)
    )


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
    (RULES §6; see :func:`rank_by_time`). The lines are the categories' own, placed anew.
    """
    tables = list(categories)
    for table in tables:
        if table.distance != distance or table.gender != gender:
            raise EngineError(f"{table.distance} {table.gender} standings in {distance} {gender}")
    lines = list(chain.from_iterable(t.lines for t in tables))
    if len(set(map(_line_bib, lines))) != len(lines):
        raise EngineError(f"{distance} {gender}: a BIB appears in two categories")
    ranked, places = _rank(lines, results, basis)
    status: PublicationStatus = (
        "official" if tables and all(t.status == "official" for t in tables) else "provisional"
    )
    return Standings(distance, gender, None, status, ranked, places)


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
    lines = list(map(_after_place, entries))
    if len(set(map(_line_bib, lines))) != len(lines):
        raise EngineError("a BIB appears twice in one field")
    ranked, places = _rank(lines, results, basis)
    return tuple(map(_new_entry, repeat(StandingEntry), map(add, zip(places), ranked)))


_UNPLACED_ORDER: Final[dict[str | None, int]] = {**NON_FINISHER_ORDER, "OK": 0}
"""A finisher without the ranking time waits with those without a result (RULES §6)."""

_AnyLine = TypeVar("_AnyLine", bound=tuple[object, ...])
"""A :class:`StandingLine`, or the same fields as a plain tuple (an entry after its place)."""


def _rank(
    lines: list[_AnyLine], results: ResultRules, basis: TimeBasis
) -> tuple[tuple[_AnyLine, ...], tuple[int | None, ...]]:
    """Lines in place order by raw ``basis`` time, and their places (see :func:`rank_by_time`)."""
    at: Literal[3, 5] = _GUN if basis == "gun" else _NET
    timed = [line for line in lines if line[_STATUS] == "OK" and line[at] is not None]
    # by raw time alone, as in _by_time; the runners sharing a place are listed by BIB after
    timed.sort(key=itemgetter(at))
    places, shared = _places(map(itemgetter(at), timed), results, first_place=1)
    _list_shared_places_by_bib(timed, places, shared, first_place=1)
    unplaced = [line for line in lines if line[_STATUS] != "OK" or line[at] is None]
    unplaced.sort(key=lambda line: (_UNPLACED_ORDER[line[_STATUS]], line[_BIB]))  # type: ignore[index]
    return (*timed, *unplaced), (*places, *repeat(None, len(unplaced)))


def winners(standings: Standings, results: ResultRules) -> tuple[StandingEntry, ...]:
    """The prize-winners of a category (reg 11.1, 11.2, 11.3.4): see :meth:`Standings.winners`."""
    return standings.winners(results)


def _by_time(
    rows: list[_Row], category: str, results: ResultRules, offset: int
) -> tuple[list[StandingLine], list[int]]:
    """Finishers by raw time across races, equal at 1/1000 s sharing, places from offset + 1.

    The hot path of every recomputation (issue 5 bench: 50,000 runners), kept close to a
    plain sort of the times: one sort on one integer, each line built from a tuple of its
    fields, the places counted from the sorted times.
    """
    rows.sort(key=_GUN_TIME)
    lines = [
        _new_line(
            StandingLine,
            (
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
        for gun, race_id, line in rows
    ]
    places, shared = _places(map(_GUN_TIME, rows), results, first_place=offset + 1)
    _list_shared_places_by_bib(lines, places, shared, first_place=offset + 1)
    return lines, places


def _places(
    times: Iterable[int], results: ResultRules, first_place: int
) -> tuple[list[int], list[int]]:
    """The places of raw times in order, equal at 1/1000 s sharing (RULES §5, §6): 1, 2, 2, 4.

    Also the places given to more than one runner (a place repeats once per extra runner).
    """
    resolution = results.tie_resolution_us
    places: list[int] = []
    shared: list[int] = []
    previous = None
    place = 0
    for index, time in enumerate(times, start=first_place):
        tie = -(-time // resolution)
        if tie != previous:
            place, previous = index, tie
        else:
            shared.append(place)
        places.append(place)
    return places, shared


_Row = tuple[int, RaceId, RaceLine]
"""A finisher of a group as it is sorted: raw gun time, the race, the line."""

_GUN_TIME: Final = itemgetter(0)
"""Rows are sorted by raw time alone, an order of the tie keys too (rounding up keeps it): a
sort on one integer compares each pair once, where a sort on (tie key, BIB) tuples compares
twice (half the sort's time, issue 5 bench); the few runners sharing a place are then listed
by BIB (:func:`_list_shared_places_by_bib`)."""

_new_line: Final = tuple.__new__
_new_entry: Final = tuple.__new__
"""A line or an entry straight from a tuple of its fields: ``StandingLine(...)`` goes
through the named tuple's generated ``__new__``, a Python call of its own per line (a third
of the time of building them, issue 5 bench). The result is a StandingLine all the same."""

# Fields of a line read by position in the hot loops: a subscript of a named tuple is faster
# than its named field, a descriptor call (checked against StandingLine._fields by the tests).
_BIB: Final = 0
_STATUS: Final = 2
_GUN: Final = 3
_NET: Final = 5

_line_bib: Final = itemgetter(_BIB)
_after_place: Final = itemgetter(slice(1, None))
"""An entry's fields after its place: those of its line."""
_place_of: Final = itemgetter(0)


def _list_shared_places_by_bib(
    lines: list[_AnyLine], places: list[int], shared: Iterable[int], first_place: int
) -> None:
    """List the runners of each shared place by BIB (RULES §6), in place.

    ``lines`` are in place order, sorted by raw time alone (those sharing a place in the
    order of their raw times), ``places`` their places; ``shared`` names the places given to
    more than one runner (a place may repeat), ``first_place`` is the place of ``lines[0]``.
    """
    for place in dict.fromkeys(shared):
        start = place - first_place
        end = start + 1
        while end < len(places) and places[end] == place:
            end += 1
        lines[start:end] = sorted(lines[start:end], key=_line_bib)


def _line(line: RaceLine, category: str, race_id: RaceId) -> StandingLine:
    fields = (
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
    return _new_line(StandingLine, fields)


__all__ = [
    "StandingEntry",
    "StandingLine",
    "Standings",
    "TimeBasis",
    "gender_standings",
    "group_standings",
    "rank_by_time",
    "winners",
]
