"""The relay's standings and prize list (RULES §8; `teams` owns the prize list).

`ranking` runs the relay as one round of races, a timed final: places across all relay races
by raw gun time of the last leg's finish (equal raw times share a place, RULES §6), then DNF,
DQ and DNS without a place. A breach by any one member disqualifies the team: `ranking` sends
that as the team's DQ. The prize fund of the edition (news: 200,000 / 150,000 / 100,000 KZT)
goes to places 1-3.

Shared places (the regulations and the news are silent): teams sharing a place share the
prizes of the places they occupy, in equal whole tenge; a remainder of a few tenge goes, one
tenge each, to the shared teams in BIB order (money is integer KZT, RULES §1). A team entered
but in no race result is DNS once every relay race is official (before that it may still run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from copa_teams.engine.terms import PublicationStatus, ResultStatus

NON_FINISHER_ORDER: dict[ResultStatus, int] = {"OK": 0, "DNF": 1, "DQ": 2, "DNS": 3}


@dataclass(frozen=True)
class RelayTeam:
    relay_team_id: uuid.UUID
    bib: int
    team_name: str


@dataclass(frozen=True)
class RelayLine:
    relay_team_id: uuid.UUID
    bib: int
    status: ResultStatus
    gun_time_us: int | None
    official_time_us: int | None


@dataclass(frozen=True)
class RelayRace:
    """A relay race as last published: ``lines`` None while it has a start list only."""

    race_id: uuid.UUID
    official: bool
    lines: tuple[RelayLine, ...] | None


@dataclass(frozen=True)
class RelayPlace:
    place: int | None
    relay_team_id: uuid.UUID
    team_name: str
    bib: int
    status: ResultStatus
    official_time_us: int | None
    prize_kzt: int


@dataclass(frozen=True)
class RelayTable:
    status: PublicationStatus
    standings: tuple[RelayPlace, ...]


def relay_table(
    races: Iterable[RelayRace], teams: Iterable[RelayTeam], prize_fund_kzt: Sequence[int]
) -> RelayTable | None:
    """The relay standings; None while no relay race has results."""
    races = sorted(races, key=lambda race: race.race_id)
    with_results = [race for race in races if race.lines is not None]
    if not with_results:
        return None
    official = all(race.official for race in races)
    names = {team.relay_team_id: team for team in teams}
    lines: dict[uuid.UUID, RelayLine] = {}
    for race in with_results:
        assert race.lines is not None
        for line in race.lines:
            known = lines.get(line.relay_team_id)
            # A team is in one race; should two results name it, its best one counts.
            if known is None or _order(line) < _order(known):
                lines[line.relay_team_id] = line
    if official:
        for team in names.values():
            if team.relay_team_id not in lines:
                lines[team.relay_team_id] = RelayLine(
                    team.relay_team_id, team.bib, "DNS", None, None
                )
    ordered = sorted(lines.values(), key=_order)
    places: list[int | None] = []
    for index, line in enumerate(ordered):
        if line.status != "OK":
            places.append(None)
        elif (
            index > 0
            and ordered[index - 1].status == "OK"
            and _time(ordered[index - 1]) == _time(line)
        ):
            places.append(places[-1])
        else:
            places.append(index + 1)
    prizes = _prizes(ordered, places, prize_fund_kzt)
    standings = tuple(
        RelayPlace(
            place=place,
            relay_team_id=line.relay_team_id,
            team_name=names[line.relay_team_id].team_name
            if line.relay_team_id in names
            else f"Team {line.bib}",
            bib=line.bib,
            status=line.status,
            official_time_us=line.official_time_us,
            prize_kzt=prizes[index],
        )
        for index, (line, place) in enumerate(zip(ordered, places, strict=True))
    )
    return RelayTable("official" if official else "provisional", standings)


def _time(line: RelayLine) -> int:
    # Places come from the raw gun time (RULES §6); the shown time only if no raw one came.
    time = line.gun_time_us if line.gun_time_us is not None else line.official_time_us
    return time if time is not None else 2**62


def _order(line: RelayLine) -> tuple[int, int, int]:
    return (NON_FINISHER_ORDER[line.status], _time(line) if line.status == "OK" else 0, line.bib)


def _prizes(
    ordered: Sequence[RelayLine], places: Sequence[int | None], fund: Sequence[int]
) -> list[int]:
    prizes = [0] * len(ordered)
    index = 0
    while index < len(ordered):
        place = places[index]
        if place is None:
            break
        shared = [i for i in range(index, len(ordered)) if places[i] == place]
        pot = sum(fund[place - 1 : place - 1 + len(shared)])
        share, remainder = divmod(pot, len(shared))
        for rank, i in enumerate(sorted(shared, key=lambda i: ordered[i].bib)):
            prizes[i] = share + (1 if rank < remainder else 0)
        index += len(shared)
    return prizes
