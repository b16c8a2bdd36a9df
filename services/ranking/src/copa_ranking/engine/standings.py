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

Equal raw times (at 1/1000 s) share a place; DNF, DQ, DNS have none and follow the finishers
(RULES §6). Standings are ``provisional`` until every race they rest on is ``official``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

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


_Timed = TypeVar("_Timed", RaceLine, StandingEntry)


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
    finished: list[RaceLine] = []
    others: list[RaceLine] = []
    listed = 0
    for race in first_round:
        race_id = race.race_id
        listed += len(race.lines)
        for line in race.lines:
            race_of[line.bib] = race_id
            (finished if line.status == "OK" else others).append(line)
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
        rest = [line for line in finished if line.bib not in in_final]
        entries += _by_time(rest, race_of, category, results, offset=len(final.lines))
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
        entries = _by_time(finished, race_of, category, results, offset=0)

    others.sort(key=lambda line: (NON_FINISHER_ORDER[line.status], line.bib))
    entries += [_entry(line, None, category, race_of[line.bib]) for line in others]
    return Standings(group.distance, group.gender, group.category, status, tuple(entries))


def gender_standings(
    distance: str,
    gender: Gender,
    categories: Iterable[Standings],
    results: ResultRules,
) -> Standings:
    """All categories of a distance and gender together (reg 4.2.4, RULES §7).

    A finisher is ranked by the gun time that placed them in their category (the final's time
    for a finalist, else the round-1 time); equal raw times share a place. Official when every
    category's standings are.
    """
    tables = list(categories)
    for table in tables:
        if table.distance != distance or table.gender != gender:
            raise EngineError(f"{table.distance} {table.gender} standings in {distance} {gender}")
    entries = [e for t in tables for e in t.entries]
    if len({e.bib for e in entries}) != len(entries):
        raise EngineError(f"{distance} {gender}: a BIB appears in two categories")
    resolution = results.tie_resolution_us
    finishers = [e for e in entries if e.status == "OK" and e.gun_time_us is not None]
    _sort_by_time(finishers, resolution)
    ranked: list[StandingEntry] = []
    append = ranked.append
    make = StandingEntry._make  # a new place on the same line: the fastest copy of a tuple
    previous_key = -1
    place = 0
    for index, entry in enumerate(finishers, start=1):
        key = -(-(entry.gun_time_us or 0) // resolution)
        if key != previous_key:
            place, previous_key = index, key
        append(make((place, *entry[1:])))
    rest = sorted(
        (e for e in entries if e.status != "OK"),
        key=lambda e: (NON_FINISHER_ORDER[e.status], e.bib),
    )
    ranked.extend(make((None, *e[1:])) for e in rest)
    status: PublicationStatus = (
        "official" if tables and all(t.status == "official" for t in tables) else "provisional"
    )
    return Standings(distance, gender, None, status, tuple(ranked))


def winners(standings: Standings, results: ResultRules) -> tuple[StandingEntry, ...]:
    """The prize-winners of a category (reg 11.1, 11.2, 11.3.4): see :meth:`Standings.winners`."""
    return standings.winners(results)


def _by_time(
    finished: list[RaceLine],
    race_of: Mapping[Bib, RaceId],
    category: str,
    results: ResultRules,
    offset: int,
) -> list[StandingEntry]:
    """Finishers by raw time across races, equal at 1/1000 s sharing, places from offset + 1.

    The hot path of every recomputation (issue 5 bench: 50,000 runners), kept close to a
    plain sort of the times: one integer sort key, one pass, tuples.
    """
    resolution = results.tie_resolution_us
    _sort_by_time(finished, resolution)
    entries: list[StandingEntry] = []
    append = entries.append
    previous_key = -1
    place = 0
    for index, line in enumerate(finished, start=offset + 1):
        gun = line.gun_time_us or 0
        key = -(-gun // resolution)
        if key != previous_key:
            place, previous_key = index, key
        append(
            StandingEntry(
                place,
                line.bib,
                category,
                "OK",
                gun,
                line.official_time_us,
                line.net_time_us,
                line.source,
                None,
                race_of[line.bib],
            )
        )
    return entries


_BIB_SPAN = 1 << 32


def _sort_by_time(items: list[_Timed], resolution: int) -> None:
    """Sort in place by raw time at ``resolution`` (rounded up), then by BIB.

    One integer per item, (time key) * 2^32 + BIB, when every BIB fits in 32 bits (always,
    for real BIBs); otherwise two stable sorts.
    """
    if all(0 <= item.bib < _BIB_SPAN for item in items):
        items.sort(key=lambda i: -(-(i.gun_time_us or 0) // resolution) * _BIB_SPAN + i.bib)
    else:
        items.sort(key=lambda i: i.bib)
        items.sort(key=lambda i: -(-(i.gun_time_us or 0) // resolution))


def _entry(line: RaceLine, place: int | None, category: str, race_id: RaceId) -> StandingEntry:
    return StandingEntry(
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


__all__ = ["StandingEntry", "Standings", "gender_standings", "group_standings", "winners"]
