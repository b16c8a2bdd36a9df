"""Invariants of the team classification (reg 4.2.4, RULES §7), over generated race days."""

from __future__ import annotations

import uuid
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from copa_contracts.edition import Edition
from copa_teams.engine import (
    ClassificationRules,
    ClassificationTable,
    GenderStandings,
    Participant,
    StandingLine,
    Team,
    Waiting,
    classify,
)

SPRINT = ClassificationRules.of(Edition(), "sprint")
STATUSES = ["OK"] * 6 + ["DNF", "DNS", "DQ"]


def place_by_time(results: list[tuple[Participant, str, int]]) -> list[StandingLine]:
    """Competition ranking of finishers by time: equal times share a place (RULES §6)."""
    finishers = sorted((r for r in results if r[1] == "OK"), key=lambda r: r[2])
    lines = []
    for index, (runner, _, time) in enumerate(finishers):
        shared = index > 0 and finishers[index - 1][2] == time
        place = lines[-1].place if shared else index + 1
        lines.append(StandingLine(runner.participant_id, place, "OK"))
    lines += [StandingLine(r[0].participant_id, None, r[1]) for r in results if r[1] != "OK"]  # type: ignore[arg-type]
    return lines


@st.composite
def race_days(
    draw: st.DrawFn,
) -> tuple[list[Team], dict[str, list[tuple[Participant, str, int]]], int]:
    bib = iter(range(1, 10_000))
    teams = []
    results: dict[str, list[tuple[Participant, str, int]]] = {"M": [], "F": []}
    for t in range(draw(st.integers(1, 5))):
        members = []
        for i in range(10):
            gender = "M" if i < 5 else "F"
            runner = Participant(uuid.uuid4(), next(bib), "100m", gender, f"R{t}{i}", f"p{t}{i}")  # type: ignore[arg-type]
            members.append(runner)
            results[gender].append(
                (runner, draw(st.sampled_from(STATUSES)), draw(st.integers(10_000, 10_040)))
            )
        teams.append(Team(uuid.uuid4(), f"Team {t}", tuple(members)))
    for gender in ("M", "F"):
        for _ in range(draw(st.integers(0, 6))):  # runners in no team
            runner = Participant(uuid.uuid4(), next(bib), "100m", gender, "X", f"x{gender}")  # type: ignore[arg-type]
            results[gender].append(
                (runner, draw(st.sampled_from(STATUSES)), draw(st.integers(10_000, 10_040)))
            )
    absent = draw(st.integers(0, 3))  # entrants ranking counts but lists nowhere
    return teams, results, absent


def tables_of(
    results: dict[str, list[tuple[Participant, str, int]]], absent: int
) -> dict[tuple[str, str], GenderStandings]:
    return {
        ("100m", g): GenderStandings(
            "100m",
            g,
            "provisional",
            len(results[g]) + absent,
            tuple(place_by_time(results[g])),  # type: ignore[arg-type]
        )
        for g in ("M", "F")
    }


def table(
    teams: list[Team], standings: dict[tuple[str, str], GenderStandings]
) -> ClassificationTable:
    result = classify(SPRINT, teams, standings)  # type: ignore[arg-type]
    assert isinstance(result, ClassificationTable)
    return result


@settings(max_examples=150, deadline=None)
@given(race_days())
def test_a_teams_total_is_the_sum_of_its_entries_and_places_follow_totals(day) -> None:  # type: ignore[no-untyped-def]
    teams, results, absent = day
    standings = table(teams, tables_of(results, absent)).standings
    assert len(standings) == len(teams)
    for team in standings:
        assert team.points == sum(e.points for e in team.entries)
        assert len(team.entries) == 10
        assert team.last_scorer_points == max(e.points for e in team.entries)
        for entry in team.entries:
            entrants = len(results[entry.participant.gender]) + absent
            # reg 4.2.4: the place, or the participants of those standings plus 2.
            assert entry.points == (entrants + 2 if entry.penalty else entry.place)
            assert entry.penalty == (entry.status != "OK")
    keys = [(t.points, t.last_scorer_points) for t in standings]
    assert keys == sorted(keys)
    for index, team in enumerate(standings):
        same = index > 0 and keys[index - 1] == keys[index]
        assert team.place == (standings[index - 1].place if same else index + 1)


@settings(max_examples=150, deadline=None)
@given(race_days(), st.data())
def test_adding_a_penalty_never_improves_a_team(day, data) -> None:  # type: ignore[no-untyped-def]
    teams, results, absent = day
    before = {t.team_id: t for t in table(teams, tables_of(results, absent)).standings}
    victim_team = data.draw(st.sampled_from(teams))
    victim = data.draw(st.sampled_from(victim_team.members))
    status = data.draw(st.sampled_from(["DNF", "DNS", "DQ"]))
    penalized = {
        g: [(r, status if r is victim else s, t) for r, s, t in lines]
        for g, lines in results.items()
    }
    after = {t.team_id: t for t in table(teams, tables_of(penalized, absent)).standings}
    old, new = before[victim_team.team_id], after[victim_team.team_id]
    if next(e for e in old.entries if e.participant is victim).penalty:
        assert new.points == old.points
    else:
        assert new.points > old.points
    assert new.place >= old.place


@settings(max_examples=100, deadline=None)
@given(race_days(), st.randoms(use_true_random=False))
def test_any_order_of_the_inputs_gives_the_same_table(day, rng) -> None:  # type: ignore[no-untyped-def]
    teams, results, absent = day
    reference = table(teams, tables_of(results, absent))
    shuffled_teams = list(teams)
    rng.shuffle(shuffled_teams)
    shuffled = {}
    for key, standings in tables_of(results, absent).items():
        lines = list(standings.lines)
        rng.shuffle(lines)
        shuffled[key] = replace(standings, lines=tuple(lines))
    assert table(shuffled_teams, shuffled) == reference


MEDIUM = ClassificationRules.of(Edition(), "medium")
MEDIUM_KEYS = [(d, g) for d in MEDIUM.distances for g in ("M", "F")]
Results = dict[tuple[str, str], list[tuple[Participant, str, int]]]


@st.composite
def medium_days(draw: st.DrawFn) -> tuple[list[Team], Results, int, set[tuple[str, str]]]:
    """Medium-range teams split freely over the 1000 m and 3000 m, and which of the four
    standings (distance, gender) have come so far."""
    bib = iter(range(1, 10_000))
    teams = []
    results: Results = {key: [] for key in MEDIUM_KEYS}
    for t in range(draw(st.integers(1, 5))):
        members = []
        for i in range(10):
            gender = "M" if i < 5 else "F"
            distance = draw(st.sampled_from(MEDIUM.distances))
            runner = Participant(uuid.uuid4(), next(bib), distance, gender, f"R{t}{i}", f"p{t}{i}")  # type: ignore[arg-type]
            members.append(runner)
            results[(distance, gender)].append(
                (runner, draw(st.sampled_from(STATUSES)), draw(st.integers(10_000, 10_040)))
            )
        teams.append(Team(uuid.uuid4(), f"Team {t}", tuple(members)))
    absent = draw(st.integers(0, 3))
    arrived = draw(st.sets(st.sampled_from(MEDIUM_KEYS)))
    return teams, results, absent, arrived


def medium_tables(
    results: Results, absent: int, arrived: set[tuple[str, str]]
) -> dict[tuple[str, str], GenderStandings]:
    return {
        key: GenderStandings(
            key[0],
            key[1],  # type: ignore[arg-type]
            "provisional",
            len(results[key]) + absent,
            tuple(place_by_time(results[key])),
        )
        for key in arrived
    }


@settings(max_examples=150, deadline=None)
@given(medium_days())
def test_while_standings_are_pending_totals_sum_the_scored_entries_and_ranks_compare_like(
    day,  # type: ignore[no-untyped-def]
) -> None:
    teams, results, absent, arrived = day
    needed = {(m.distance, m.gender) for team in teams for m in team.members}
    partial = classify(MEDIUM, teams, medium_tables(results, absent, arrived))  # type: ignore[arg-type]
    if not needed & arrived:
        assert isinstance(partial, Waiting)
        assert set(partial.missing) == needed
        return
    assert isinstance(partial, ClassificationTable)
    assert set(partial.pending) == needed - arrived
    assert partial.status == "provisional"
    complete = classify(MEDIUM, teams, medium_tables(results, absent, set(MEDIUM_KEYS)))  # type: ignore[arg-type]
    assert isinstance(complete, ClassificationTable)
    full = {e.participant: e for t in complete.standings for e in t.entries}
    for team in partial.standings:
        scored = [e.points for e in team.entries if e.points is not None]
        assert team.points == sum(scored)
        assert team.pending_entries == 10 - len(scored)
        assert team.last_scorer_points == max(scored, default=None)
        for entry in team.entries:
            key = (entry.participant.distance, entry.participant.gender)
            # A scored entry scores what it will score in the complete table; the others wait.
            assert entry.pending == (key not in arrived)
            if not entry.pending:
                assert entry == full[entry.participant]
    # Totals compared among teams with as many entries scored (reg 4.2.4), fewer pending first.
    keys = [(t.pending_entries, t.points, t.last_scorer_points or 0) for t in partial.standings]
    assert keys == sorted(keys)
    for index, team in enumerate(partial.standings):
        same = index > 0 and keys[index - 1] == keys[index]
        assert team.place == (partial.standings[index - 1].place if same else index + 1)


@settings(max_examples=150, deadline=None)
@given(medium_days(), st.data())
def test_adding_a_penalty_never_improves_a_team_while_standings_are_pending(day, data) -> None:  # type: ignore[no-untyped-def]
    teams, results, absent, arrived = day
    before = classify(MEDIUM, teams, medium_tables(results, absent, arrived))  # type: ignore[arg-type]
    if isinstance(before, Waiting):
        return
    victim_team = data.draw(st.sampled_from(teams))
    victim = data.draw(st.sampled_from(victim_team.members))
    status = data.draw(st.sampled_from(["DNF", "DNS", "DQ"]))
    penalized = {
        key: [(r, status if r is victim else s, t) for r, s, t in lines]
        for key, lines in results.items()
    }
    after = classify(MEDIUM, teams, medium_tables(penalized, absent, arrived))  # type: ignore[arg-type]
    assert isinstance(after, ClassificationTable)
    old = next(t for t in before.standings if t.team_id == victim_team.team_id)
    new = next(t for t in after.standings if t.team_id == victim_team.team_id)
    entry = next(e for e in old.entries if e.participant is victim)
    if entry.pending or entry.penalty:
        assert new.points == old.points
    else:
        assert new.points > old.points
    assert new.place >= old.place
