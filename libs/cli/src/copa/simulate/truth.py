"""The simulation's own truth: what every published result must say (issue 8). Pure.

Written from the rules, not from the platform's engine, so that the two can disagree:

* within a race (RULES §6): finishers by the photo-finish order where there is one, else by
  raw gun time compared at 1/1000 s (RULES §5), equal times sharing a place (1, 2, 2, 4); the
  official time is the raw time rounded up to 1/100 s; DNF, DQ (with its rule), DNS no place;
* the draw (reg 11.3.2-11.3.4, 11.3.6): a group of N runners in ceil(N / race_max) races of
  balanced sizes, heats and a final where the rules call for them;
* into a final (reg 11.3.2, 11.3.3; Copa K = 0): the ``final_size`` fastest of round 1 by time
  at 1/1000 s, marked ``q``;
* standings (reg 11.3.2-11.3.4, 11.3.6): a final's places first, then the other round-1
  finishers by time, places counted on after every runner of the final; one round of several
  races: by time across them; one race: its own order; non-finishers last, DNF, DQ, DNS;
* per gender overall (reg 4.2.4, RULES §7): every category by the gun time that placed each
  runner in it (the final's for a finalist);
* team classifications (reg 4.2.4, RULES §7): an entry scores its runner's place in the
  overall standings of its distance and gender, or, not placed there, the number of people in
  those standings plus 2; lowest total first, a tie broken by the better last scorer;
* the relay (RULES §8): one round, a timed final: places across its races by raw gun time,
  the prize fund to places 1-3.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from copa.simulate.races import Outcome

NON_FINISHER_ORDER = {"DNF": 1, "DQ": 2, "DNS": 3}
TIE_US = 1_000
"""RULES §5: raw times compare at 1/1000 s."""
OFFICIAL_US = 10_000
"""RULES §6: the official time is the raw time rounded up to 1/100 s."""


@dataclass(frozen=True)
class Line:
    """One expected line: a race result or a standings entry."""

    bib: int
    place: int | None
    status: str  # OK, DNF, DQ, DNS
    official_us: int | None
    dq_rule: str | None = None
    qualified: str | None = None


@dataclass(frozen=True)
class Timed:
    """A result that places a runner: the outcome and the race it was set in."""

    outcome: Outcome
    race_id: str


def official(raw_us: int) -> int:
    return -(-raw_us // OFFICIAL_US) * OFFICIAL_US


def tie_key(raw_us: int) -> int:
    return -(-raw_us // TIE_US)


def race_lines(outcomes: Iterable[Outcome]) -> dict[int, Line]:
    """The expected result of one race, by BIB."""
    listed = list(outcomes)
    finishers = sorted(
        (o for o in listed if o.status == "OK"), key=lambda o: (tie_key(_time(o)), o.bib)
    )
    lines = {
        o.bib: Line(o.bib, place, "OK", official(_time(o)))
        for o, place in zip(finishers, competition_places(finishers), strict=True)
    }
    lines.update((o.bib, _unplaced(o)) for o in listed if o.status != "OK")
    return lines


def competition_places(ordered: list[Outcome], offset: int = 0) -> list[int]:
    """1, 2, 2, 4 over finishers already in time order (ties at 1/1000 s, RULES §5)."""
    places: list[int] = []
    for index, outcome in enumerate(ordered):
        if index and tie_key(_time(ordered[index - 1])) == tie_key(_time(outcome)):
            places.append(places[-1])
        else:
            places.append(offset + index + 1)
    return places


def final_qualifiers(round_one: Iterable[Outcome], final_size: int) -> set[int]:
    """The ``final_size`` fastest finishers of round 1 at 1/1000 s (Copa: K = 0, M = size).

    A tie for the last place into the final is settled by a lot the platform records; the
    race model keeps photo times distinct, and chip ties at the cut are reported as such.
    """
    finishers = sorted(
        (o for o in round_one if o.status == "OK"), key=lambda o: (tie_key(_time(o)), o.bib)
    )
    return {o.bib for o in finishers[:final_size]}


def group_standings(
    round_one: list[list[Outcome]], final: list[Outcome] | None
) -> tuple[dict[int, Line], dict[int, int]]:
    """Expected standings of one category group, and the raw time that placed each finisher."""
    placing_time: dict[int, int] = {}
    entries: dict[int, Line] = {}
    everyone = [o for race in round_one for o in race]
    if final is not None:
        final_lines = race_lines(final)
        in_final = {o.bib for o in final}
        for o in final:
            if o.status == "OK":
                line = final_lines[o.bib]
                entries[o.bib] = Line(o.bib, line.place, "OK", line.official_us)
                placing_time[o.bib] = _time(o)
        rest = [o for o in everyone if o.bib not in in_final]
        _by_time(rest, len(final), entries, placing_time)
        for o in [*final, *rest]:
            if o.status != "OK":
                entries[o.bib] = _unplaced(o)
    elif len(round_one) == 1:
        entries.update(race_lines(round_one[0]))
        placing_time.update({o.bib: _time(o) for o in round_one[0] if o.status == "OK"})
    else:
        _by_time(everyone, 0, entries, placing_time)
        for o in everyone:
            if o.status != "OK":
                entries[o.bib] = _unplaced(o)
    return entries, placing_time


def gender_standings(
    tables: Iterable[tuple[dict[int, Line], dict[int, int]]],
) -> dict[int, Line]:
    """Every category of a distance and gender together, by the placing gun time."""
    entries: dict[int, Line] = {}
    timed: list[tuple[int, int, int | None]] = []
    for lines, times in tables:
        for bib, line in lines.items():
            if line.status == "OK":
                timed.append((tie_key(times[bib]), bib, line.official_us))
            else:
                entries[bib] = line
    timed.sort()
    place = 0
    for index, (key, bib, official_us) in enumerate(timed, start=1):
        if index == 1 or key != timed[index - 2][0]:
            place = index
        entries[bib] = Line(bib, place, "OK", official_us)
    return entries


def _by_time(
    outcomes: list[Outcome], offset: int, entries: dict[int, Line], placing: dict[int, int]
) -> None:
    finishers = sorted(
        (o for o in outcomes if o.status == "OK"), key=lambda o: (tie_key(_time(o)), o.bib)
    )
    for o, place in zip(finishers, competition_places(finishers, offset), strict=True):
        entries[o.bib] = Line(o.bib, place, "OK", official(_time(o)))
        placing[o.bib] = _time(o)


def _unplaced(o: Outcome) -> Line:
    return Line(o.bib, None, o.status, None, o.dq_rule)


def _time(o: Outcome) -> int:
    if o.finish_us is None:
        raise ValueError(f"BIB {o.bib}: a finisher without a time")
    return o.finish_us


def balanced(sizes: list[int], race_max: int) -> bool:
    """Races of a round as the rules divide a group: as few as the maximum allows, sizes
    differing by at most one (reg 11.3.2-11.3.4)."""
    total = sum(sizes)
    return len(sizes) == -(-total // race_max) and max(sizes) - min(sizes) <= 1


def parse_time_us(text: str | None) -> int | None:
    """A displayed time (``11.01``, ``3:25.43``, ``1:02:03.45``) in microseconds."""
    if text is None:
        return None
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return round(total * 1_000_000)


# --- teams (reg 4.2.4, RULES §7) and the relay (RULES §8) ----------------------------------


@dataclass(frozen=True)
class TeamEntry:
    """One line of a team application: whose result, in which distance and gender."""

    bib: int
    distance: str
    gender: str


@dataclass(frozen=True)
class ScoredEntry:
    bib: int
    place: int | None
    points: int
    penalty: bool


@dataclass(frozen=True)
class TeamLine:
    team_name: str
    place: int
    points: int
    last_scorer_points: int
    entries: tuple[ScoredEntry, ...]


def team_classification(
    teams: Mapping[str, Sequence[TeamEntry]],
    overall: Mapping[tuple[str, str], Mapping[int, Line]],
    penalty_extra: int,
) -> list[TeamLine]:
    """Expected table of one classification from each distance and gender's overall standings
    (``overall``: every line of those standings, non-finishers too)."""
    scored: list[tuple[int, int, str, tuple[ScoredEntry, ...]]] = []
    for name, entries in teams.items():
        lines: list[ScoredEntry] = []
        for entry in entries:
            table = overall.get((entry.distance, entry.gender), {})
            line = table.get(entry.bib)
            if line is not None and line.place is not None:
                lines.append(ScoredEntry(entry.bib, line.place, line.place, False))
            else:  # RULES §7: DNS, DNF, DQ or absent: everyone in those standings, plus 2
                lines.append(ScoredEntry(entry.bib, None, len(table) + penalty_extra, True))
        points = sum(e.points for e in lines)
        scored.append((points, max(e.points for e in lines), name, tuple(lines)))
    scored.sort()
    table_lines: list[TeamLine] = []
    for index, (points, last, name, scored_entries) in enumerate(scored):
        tied = index > 0 and scored[index - 1][:2] == (points, last)
        place = table_lines[-1].place if tied else index + 1
        table_lines.append(TeamLine(name, place, points, last, scored_entries))
    return table_lines


@dataclass(frozen=True)
class RelayLine:
    bib: int
    place: int | None
    status: str
    official_us: int | None
    prize_kzt: int


def relay_standings(
    races: Iterable[Iterable[Outcome]], prize_fund_kzt: Sequence[int]
) -> dict[int, RelayLine]:
    """Every relay team of every race: places by raw time across the races (RULES §8), then
    the prizes of places 1-3; teams sharing a place share the prizes of the places they
    occupy, in whole tenge, a remainder one tenge each in BIB order."""
    everyone = [o for race in races for o in race]
    finishers = sorted(
        (o for o in everyone if o.status == "OK"), key=lambda o: (tie_key(_time(o)), o.bib)
    )
    places = competition_places(finishers)
    prizes: dict[int, int] = {}
    for place in sorted(set(places)):
        sharing = [o.bib for o, p in zip(finishers, places, strict=True) if p == place]
        fund = sum(
            prize_fund_kzt[k]
            for k in range(place - 1, place - 1 + len(sharing))
            if k < len(prize_fund_kzt)
        )
        share, remainder = divmod(fund, len(sharing))
        for n, bib in enumerate(sorted(sharing)):
            prizes[bib] = share + (1 if n < remainder else 0)
    lines = {
        o.bib: RelayLine(o.bib, place, "OK", official(_time(o)), prizes.get(o.bib, 0))
        for o, place in zip(finishers, places, strict=True)
    }
    lines.update(
        (o.bib, RelayLine(o.bib, None, o.status, None, 0)) for o in everyone if o.status != "OK"
    )
    return lines
