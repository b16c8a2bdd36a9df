"""Team points and the classification table (reg 4.2.4, RULES §7).

* An entry scores its runner's place among all runners of the same gender in its distance's
  standings (the standings across age categories, not the category place).
* A runner who is DNS, DNF or DQ, or who is missing from those standings altogether (did not
  attend: reg 4.2.4 "fails to attend"), scores the number of participants of those standings
  plus 2 (the edition's ``penalty_extra_points``).
* A shared place counts as shared: two runners on a shared 4th both score 4 (RULES §6).
* A team's points are the sum of its entries' points; the lowest total wins.
* A tie on points (the regulations are silent) is broken as in WA cross-country team scoring
  (RULES §7): the team whose last scoring member placed better wins, i.e. the team whose
  worst-scoring entry scored fewer points. Teams still level share the place.

While the competition runs, the table is shown as soon as any standings it sums exists: an
entry whose distance has no standings of its gender yet is *pending* (no points yet) and the
table is provisional and incomplete (:func:`rank_teams` says how such teams are compared).
The table is ``official`` once every standings it sums is there and official. Before any of
them has arrived there is nothing to show: :class:`Waiting` says what it waits for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from copa_teams.engine.applications import ClassificationRules, Participant
from copa_teams.engine.terms import (
    EngineError,
    Gender,
    ParticipantId,
    PublicationStatus,
    ResultStatus,
    TeamId,
)


@dataclass(frozen=True)
class StandingLine:
    """One runner's line in a distance's standings of one gender."""

    participant_id: ParticipantId
    place: int | None
    status: ResultStatus


@dataclass(frozen=True)
class GenderStandings:
    """The final standings of a distance and gender across age categories (reg 4.2.4)."""

    distance: str
    gender: Gender
    status: PublicationStatus
    entrants_count: int
    """Participants of these standings, starters and non-starters: the base of the penalty."""
    lines: tuple[StandingLine, ...]

    @property
    def key(self) -> tuple[str, Gender]:
        return (self.distance, self.gender)

    def line_of(self, participant_id: ParticipantId) -> StandingLine | None:
        for line in self.lines:
            if line.participant_id == participant_id:
                return line
        return None

    @property
    def penalty_base(self) -> int:
        # Entrants as ranking counts them; never fewer than the lines it lists, so that a
        # penalty always scores worse than any place (a defensive floor; equal for sound input).
        return max(self.entrants_count, len(self.lines))


@dataclass(frozen=True)
class Team:
    """A complete, valid team: its members in the order of the application form."""

    team_id: TeamId
    team_name: str
    members: tuple[Participant, ...]


@dataclass(frozen=True)
class EntryScore:
    participant: Participant
    place: int | None
    status: ResultStatus | None
    """None while the entry is pending (no standings of its distance and gender yet)."""
    points: int | None
    """None while the entry is pending."""
    penalty: bool

    @property
    def pending(self) -> bool:
        return self.points is None


@dataclass(frozen=True)
class TeamScore:
    place: int
    team_id: TeamId
    team_name: str
    points: int
    """Sum of the scored entries' points (all of them once no entry is pending)."""
    last_scorer_points: int | None
    """Points of the worst-scoring scored entry: the tie-break (RULES §7); None while no
    entry of the team is scored."""
    entries: tuple[EntryScore, ...]
    tie_break: str | None
    """Why this team is placed where it is among teams level on points; None if none are."""

    @property
    def pending_entries(self) -> int:
        return sum(1 for entry in self.entries if entry.pending)


@dataclass(frozen=True)
class ClassificationTable:
    code: str
    status: PublicationStatus
    standings: tuple[TeamScore, ...]
    pending: tuple[tuple[str, Gender], ...] = ()
    """Standings (distance, gender) some team needs that have not arrived: while any is
    pending the table is provisional and incomplete."""


@dataclass(frozen=True)
class Waiting:
    """Nothing to show yet: none of the (distance, gender) standings the teams need is here."""

    code: str
    missing: tuple[tuple[str, Gender], ...]


def score_entry(
    runner: Participant, standings: GenderStandings, penalty_extra_points: int
) -> EntryScore:
    """What one entry scores in its distance's standings of its gender (reg 4.2.4)."""
    if standings.key != (runner.distance, runner.gender):
        raise EngineError(f"standings {standings.key} do not hold BIB {runner.bib}")
    line = standings.line_of(runner.participant_id)
    if line is not None and line.status == "OK":
        if line.place is None:
            raise EngineError(f"BIB {runner.bib} finished without a place")
        return EntryScore(runner, line.place, "OK", line.place, penalty=False)
    # DNS, DNF, DQ, or absent from the standings (did not attend): entrants plus 2.
    status: ResultStatus = "DNS" if line is None else line.status
    points = standings.penalty_base + penalty_extra_points
    return EntryScore(runner, None, status, points, penalty=True)


def pending_entry(runner: Participant) -> EntryScore:
    """An entry whose distance has no standings of its gender yet: it scores nothing so far."""
    return EntryScore(runner, None, None, None, penalty=False)


def classify(
    rules: ClassificationRules,
    teams: Iterable[Team],
    standings: Mapping[tuple[str, Gender], GenderStandings],
) -> ClassificationTable | Waiting:
    """The classification's table: teams in place order (reg 4.2.4, RULES §7); provisional
    and incomplete while some standings it sums has not arrived."""
    teams = sorted(teams, key=lambda team: team.team_id)
    needed = sorted({(m.distance, m.gender) for team in teams for m in team.members})
    missing = tuple(key for key in needed if key not in standings)
    if needed and len(missing) == len(needed):
        return Waiting(rules.code, missing)
    scored: list[tuple[Team, tuple[EntryScore, ...]]] = [
        (
            team,
            tuple(
                score_entry(m, standings[key], rules.penalty_extra_points)
                if (key := (m.distance, m.gender)) in standings
                else pending_entry(m)
                for m in team.members
            ),
        )
        for team in teams
    ]
    status: PublicationStatus = (
        "official"
        if needed and not missing and all(standings[k].status == "official" for k in needed)
        else "provisional"
    )
    return ClassificationTable(rules.code, status, rank_teams(scored), missing)


def rank_teams(scored: Sequence[tuple[Team, tuple[EntryScore, ...]]]) -> tuple[TeamScore, ...]:
    """Places by total points, ties broken by the last scoring member; equal teams share.

    While entries are pending (provisional, incomplete), teams are compared on points only
    with teams that have as many entries scored: reg 4.2.4 ranks teams by the total of their
    5 men's and 5 women's results, and a total over fewer results is lower only because it
    is shorter (each pending entry will add at least one point). So the teams with more
    entries scored come first, and within a number of scored entries the lowest total wins,
    ties broken as RULES §7 says. Sprint teams all wait for the same standings and are always
    compared by their partial totals; in Medium-range a team of 1000 m runners is not ranked
    on points against a team whose 3000 m runners have not run. Once no entry is pending this
    is the plain ranking of reg 4.2.4.
    """
    lines = [
        _Line(
            pending=sum(1 for e in entries if e.points is None),
            points=sum(e.points for e in entries if e.points is not None),
            last=max((e.points for e in entries if e.points is not None), default=None),
            team=team,
            entries=entries,
        )
        for team, entries in scored
    ]
    lines.sort(key=lambda line: (*line.rank_key, line.team.team_name.casefold(), line.team.team_id))
    result: list[TeamScore] = []
    for index, line in enumerate(lines):
        place = index + 1
        if index > 0 and lines[index - 1].rank_key == line.rank_key:
            place = result[-1].place
        level = [
            other
            for other in lines
            if (other.pending, other.points) == (line.pending, line.points)
            and other.team is not line.team
        ]
        result.append(
            TeamScore(
                place=place,
                team_id=line.team.team_id,
                team_name=line.team.team_name,
                points=line.points,
                last_scorer_points=line.last,
                entries=line.entries,
                tie_break=_tie_break_reason(line, level),
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class _Line:
    pending: int
    points: int
    last: int | None
    team: Team
    entries: tuple[EntryScore, ...]

    @property
    def rank_key(self) -> tuple[int, int, int]:
        return (self.pending, self.points, 0 if self.last is None else self.last)


TIE_BREAK_NAMES = 3
"""Level teams a tie-break reason names; the others are counted. A provisional table can have
dozens of teams level (entries pending), and the published reason has a bounded length
(`copa_contracts.teams.TeamStanding.tie_break`)."""


def _tie_break_reason(line: _Line, level: Sequence[_Line]) -> str | None:
    if not level or line.last is None:
        return None  # nobody level, or nothing scored yet: nothing to break
    ordered = sorted(level, key=lambda o: o.rank_key)
    others = ", ".join(
        f"{other.team.team_name!r} ({other.last})" for other in ordered[:TIE_BREAK_NAMES]
    )
    if len(ordered) > TIE_BREAK_NAMES:
        more = len(ordered) - TIE_BREAK_NAMES
        others += f" and {more} other team{'s' if more > 1 else ''}"
    reason = (
        f"Level on {line.points} points with {others}: the better last scoring member wins "
        f"(RULES §7, WA cross-country); this team's scored {line.last}."
    )
    if any(other.last == line.last for other in level):
        reason += " Still level: the place is shared."
    return reason
