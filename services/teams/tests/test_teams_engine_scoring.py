"""Team points, penalties, shared places and the tie-break (reg 4.2.4, RULES §7)."""

from __future__ import annotations

import uuid

import pytest

from copa_contracts.edition import Edition
from copa_contracts.teams import TeamStanding
from copa_teams.engine import (
    ClassificationRules,
    ClassificationTable,
    GenderStandings,
    Participant,
    StandingLine,
    Team,
    Waiting,
    classify,
    score_entry,
)
from copa_teams.engine.terms import EngineError

EDITION = Edition()
SPRINT = ClassificationRules.of(EDITION, "sprint")
MEDIUM = ClassificationRules.of(EDITION, "medium")


def runner(bib: int, gender: str, distance: str = "100m") -> Participant:
    return Participant(uuid.uuid4(), bib, distance, gender, f"Runner {bib}", f"p{bib}")  # type: ignore[arg-type]


def standings(
    distance: str,
    gender: str,
    lines: list[tuple[Participant, int | None, str]],
    entrants: int | None = None,
    status: str = "provisional",
) -> GenderStandings:
    return GenderStandings(
        distance,
        gender,  # type: ignore[arg-type]
        status,  # type: ignore[arg-type]
        entrants if entrants is not None else len(lines),
        tuple(StandingLine(p.participant_id, place, st) for p, place, st in lines),  # type: ignore[arg-type]
    )


def test_an_entry_scores_its_place_among_its_gender() -> None:
    a, b = runner(1, "F"), runner(2, "F")
    table = standings("100m", "F", [(a, 1, "OK"), (b, 2, "OK")])
    assert score_entry(b, table, 2).points == 2
    assert not score_entry(b, table, 2).penalty


@pytest.mark.parametrize("status", ["DNS", "DNF", "DQ"])
def test_dns_dnf_dq_score_the_entrants_plus_two(status: str) -> None:
    field = [runner(n, "M") for n in range(1, 31)]
    lines = [(p, i + 1, "OK") for i, p in enumerate(field[:29])] + [(field[29], None, status)]
    table = standings("100m", "M", lines, entrants=40)  # 40 entrants, starters or not
    score = score_entry(field[29], table, 2)
    assert (score.points, score.penalty, score.status, score.place) == (42, True, status, None)


def test_a_runner_missing_from_the_standings_did_not_attend_and_is_penalized() -> None:
    present, absent = runner(1, "M"), runner(2, "M")
    table = standings("100m", "M", [(present, 1, "OK")], entrants=12)
    score = score_entry(absent, table, 2)
    assert (score.points, score.status, score.penalty) == (14, "DNS", True)


def test_standings_of_another_distance_cannot_score_an_entry() -> None:
    with pytest.raises(EngineError):
        score_entry(runner(1, "M"), standings("1000m", "M", []), 2)


def make_team(name: str, first_bib: int) -> Team:
    members = tuple(runner(first_bib + i, "M" if i < 5 else "F") for i in range(10))
    return Team(uuid.uuid4(), name, members)


def sprint_standings(
    *placed: tuple[Team, list[int | None], list[int | None]], entrants: int = 25
) -> dict[tuple[str, str], GenderStandings]:
    """Standings where each team's men and women hold the given places (None: DNF)."""
    lines: dict[str, list[tuple[Participant, int | None, str]]] = {"M": [], "F": []}
    for team, men, women in placed:
        for member, place in zip(team.members, [*men, *women], strict=True):
            lines[member.gender].append((member, place, "OK" if place else "DNF"))
    return {
        ("100m", g): standings("100m", g, lines[g], entrants=entrants)  # type: ignore[misc]
        for g in ("M", "F")
    }


def test_a_shared_place_counts_as_shared() -> None:
    # Alpha's and Beta's second men share 2nd, as do their first women (RULES §6): each
    # scores 2 and the next runner is 4th. Men: Alpha 1+2+4+6+8 = 21, Beta 2+5+7+9+10 = 33;
    # women the mirror image: both teams 54, both last scorers 10th, so the teams share 1st.
    # Counted as 2nd and 3rd instead, one team would total 55 or more and lose.
    alpha, beta = make_team("Alpha", 1), make_team("Beta", 11)
    tables = sprint_standings(
        (alpha, [1, 2, 4, 6, 8], [2, 5, 7, 9, 10]), (beta, [2, 5, 7, 9, 10], [1, 2, 4, 6, 8])
    )
    assert all([line.place for line in t.lines].count(2) == 2 for t in tables.values())
    table = classify(SPRINT, [beta, alpha], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    points = {t.team_name: [e.points for e in t.entries] for t in table.standings}
    assert points == {
        "Alpha": [1, 2, 4, 6, 8, 2, 5, 7, 9, 10],
        "Beta": [2, 5, 7, 9, 10, 1, 2, 4, 6, 8],
    }
    assert [(t.place, t.team_name, t.points, t.last_scorer_points) for t in table.standings] == [
        (1, "Alpha", 54, 10),
        (1, "Beta", 54, 10),
    ]
    assert all("Still level: the place is shared." in (t.tie_break or "") for t in table.standings)


def test_lowest_total_wins_and_totals_sum_the_entries() -> None:
    fast, slow = make_team("Fast", 1), make_team("Slow", 11)
    tables = sprint_standings(
        (fast, [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), (slow, [6, 7, 8, 9, 10], [6, 7, 8, 9, 10])
    )
    table = classify(SPRINT, [slow, fast], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert [(t.place, t.team_name, t.points) for t in table.standings] == [
        (1, "Fast", 30),
        (2, "Slow", 80),
    ]
    assert all(t.tie_break is None for t in table.standings)
    assert table.status == "provisional"


def test_a_penalty_counts_the_entrants_plus_two_in_the_total() -> None:
    team = make_team("Penalized", 1)
    tables = sprint_standings((team, [1, 2, 3, 4, None], [1, 2, 3, 4, 5]), entrants=25)
    table = classify(SPRINT, [team], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    only = table.standings[0]
    assert only.points == 10 + 27 + 15
    assert only.last_scorer_points == 27
    assert [e.penalty for e in only.entries].count(True) == 1


def test_a_tie_goes_to_the_team_whose_last_scoring_member_placed_better() -> None:
    # RULES §7 (WA cross-country): both total 66; A's worst entry is 20th, B's 21st.
    a, b = make_team("A", 1), make_team("B", 11)
    tables = sprint_standings(
        (a, [1, 3, 5, 7, 20], [2, 4, 6, 8, 10]), (b, [2, 4, 6, 8, 9], [1, 3, 5, 7, 21])
    )
    table = classify(SPRINT, [b, a], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert [(t.place, t.team_name, t.points, t.last_scorer_points) for t in table.standings] == [
        (1, "A", 66, 20),
        (2, "B", 66, 21),
    ]
    assert "'B' (21)" in (table.standings[0].tie_break or "")
    assert "scored 21" in (table.standings[1].tie_break or "")
    assert "shared" not in (table.standings[0].tie_break or "")


def test_teams_level_on_points_and_last_scorer_share_the_place() -> None:
    # The two last scorers shared 20th place in the men's standings (RULES §6).
    a, b, c = make_team("A", 1), make_team("B", 11), make_team("C", 21)
    tables = sprint_standings(
        (a, [1, 3, 5, 7, 9], [2, 4, 6, 8, 20]),
        (b, [2, 4, 6, 8, 20], [1, 3, 5, 7, 9]),
        (c, [10, 11, 12, 13, 14], [10, 11, 12, 13, 14]),
    )
    table = classify(SPRINT, [c, b, a], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert [(t.place, t.points) for t in table.standings] == [(1, 65), (1, 65), (3, 120)]
    assert all("shared" in (t.tie_break or "") for t in table.standings[:2])
    assert table.standings[2].tie_break is None


def medium_team(name: str, first_bib: int, men_3000m: int, women_3000m: int = 0) -> Team:
    """5 men and 5 women on the 1000 m, ``men_3000m`` / ``women_3000m`` of them on the 3000 m."""
    men = [runner(first_bib + i, "M", "3000m" if i < men_3000m else "1000m") for i in range(5)]
    women = [
        runner(first_bib + 5 + i, "F", "3000m" if i < women_3000m else "1000m") for i in range(5)
    ]
    return Team(uuid.uuid4(), name, (*men, *women))


def placed(
    distance: str, gender: str, field: list[Participant], status: str = "provisional"
) -> GenderStandings:
    return standings(
        distance, gender, [(p, i + 1, "OK") for i, p in enumerate(field)], status=status
    )


def members(team: Team, distance: str, gender: str) -> list[Participant]:
    return [m for m in team.members if (m.distance, m.gender) == (distance, gender)]


def test_medium_range_shows_a_provisional_table_while_the_3000m_standings_are_pending() -> None:
    team = medium_team("Mixed", 1, men_3000m=2)
    tables = {
        ("1000m", "M"): placed("1000m", "M", members(team, "1000m", "M")),
        ("1000m", "F"): placed("1000m", "F", members(team, "1000m", "F"), status="official"),
    }
    partial = classify(MEDIUM, [team], tables)  # type: ignore[arg-type]
    assert isinstance(partial, ClassificationTable)
    assert (partial.status, partial.pending) == ("provisional", (("3000m", "M"),))
    line = partial.standings[0]
    # The 3000 m men have not run: pending, no points; the total is over the 8 scored entries.
    assert [(e.place, e.status, e.points, e.penalty) for e in line.entries[:2]] == [
        (None, None, None, False)
    ] * 2
    assert all(e.pending == (e.participant.distance == "3000m") for e in line.entries)
    assert (line.place, line.points, line.last_scorer_points, line.pending_entries) == (
        1,
        (1 + 2 + 3) + (1 + 2 + 3 + 4 + 5),
        5,
        2,
    )
    tables[("3000m", "M")] = placed("3000m", "M", members(team, "3000m", "M"), "official")
    table = classify(MEDIUM, [team], tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert table.pending == ()
    assert table.standings[0].points == (1 + 2 + 3) + (1 + 2) + (1 + 2 + 3 + 4 + 5)
    assert table.standings[0].pending_entries == 0
    assert table.status == "provisional"  # 1000m men are still provisional
    tables[("1000m", "M")] = placed("1000m", "M", members(team, "1000m", "M"), "official")
    official = classify(MEDIUM, [team], tables)  # type: ignore[arg-type]
    assert isinstance(official, ClassificationTable)
    assert official.status == "official"


def test_no_table_before_any_standings_the_teams_need() -> None:
    team = medium_team("Mixed", 1, men_3000m=2)
    unrelated = {("100m", "M"): placed("100m", "M", [runner(99, "M")])}
    waiting = classify(MEDIUM, [team], unrelated)  # type: ignore[arg-type]
    assert waiting == Waiting("medium", (("1000m", "F"), ("1000m", "M"), ("3000m", "M")))


def test_while_entries_are_pending_teams_are_compared_with_teams_as_many_entries_scored() -> None:
    # 1000 m results are in, 3000 m not. Stayers' 5 men run the 3000 m: their partial total
    # (women only) is lowest, but over 5 results against 10 it says nothing (reg 4.2.4): they
    # come after the teams with all 10 scored, which are ranked on points among themselves.
    milers, quick, stayers = (
        medium_team("Milers", 1, men_3000m=0),
        medium_team("Quick", 11, men_3000m=0),
        medium_team("Stayers", 21, men_3000m=5),
    )
    teams = [milers, quick, stayers]

    def order(*lists: list[Participant]) -> list[Participant]:
        return [p for group in zip(*lists, strict=True) for p in group]

    tables = {
        ("1000m", "M"): placed(
            "1000m", "M", order(members(quick, "1000m", "M"), members(milers, "1000m", "M"))
        ),
        ("1000m", "F"): placed(
            "1000m",
            "F",
            order(*(members(t, "1000m", "F") for t in (stayers, quick, milers))),
        ),
    }
    partial = classify(MEDIUM, teams, tables)  # type: ignore[arg-type]
    assert isinstance(partial, ClassificationTable)
    assert [(t.place, t.team_name, t.points, t.pending_entries) for t in partial.standings] == [
        (1, "Quick", (1 + 3 + 5 + 7 + 9) + (2 + 5 + 8 + 11 + 14), 0),
        (2, "Milers", (2 + 4 + 6 + 8 + 10) + (3 + 6 + 9 + 12 + 15), 0),
        (3, "Stayers", 1 + 4 + 7 + 10 + 13, 5),
    ]
    # The 3000 m men's standings come: every entry is scored, the lowest total wins.
    tables[("3000m", "M")] = placed("3000m", "M", members(stayers, "3000m", "M"))
    table = classify(MEDIUM, teams, tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert [(t.place, t.team_name, t.points) for t in table.standings] == [
        (1, "Stayers", 35 + 15),
        (2, "Quick", 25 + 40),
        (3, "Milers", 30 + 45),
    ]


def test_a_tie_among_many_long_named_teams_keeps_its_reason_publishable() -> None:
    # Forty teams level on points, each name as long as a name may be: the reason names three
    # of them and counts the rest, so the published table's line stays valid (its contract
    # bounds tie_break); every team placed on that line shares the place.
    teams = [make_team(f"{n:02d}" + "x" * 198, 10 * n + 1) for n in range(40)]
    men = [1, 1, 1, 1, 1]
    tables = sprint_standings(*((team, men, men) for team in teams), entrants=400)
    table = classify(SPRINT, teams, tables)  # type: ignore[arg-type]
    assert isinstance(table, ClassificationTable)
    assert {t.place for t in table.standings} == {1}
    for team in table.standings:
        reason = team.tie_break or ""
        assert "and 36 other teams" in reason
        assert "Still level: the place is shared." in reason
        TeamStanding(
            place=team.place,
            team_id=team.team_id,
            team_name=team.team_name,
            points=team.points,
            last_scorer_place=team.last_scorer_points,
            tie_break=team.tie_break,
            entries=(),
        )
