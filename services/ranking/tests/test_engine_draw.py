"""Division of a race group into races and the draw (reg 11.3.2-11.3.6, RULES §5)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import RaceDivision, load_edition
from copa_ranking.engine import (
    EngineError,
    Entrant,
    RaceGroup,
    balanced_sizes,
    draw_group,
    plan_group,
)

EDITION = load_edition()
SPRINT = EDITION.distance("100m").division
MIDDLE = EDITION.distance("1000m").division
LONG = EDITION.distance("3000m").division
GROUP = RaceGroup("100m", "M", "18-34")


def entrants(count: int, first_bib: int = 1) -> list[Entrant]:
    return [Entrant(bib) for bib in range(first_bib, first_bib + count)]


def test_eight_sprinters_run_one_race_which_is_the_final() -> None:
    plan = plan_group(8, SPRINT)
    assert (plan.first_round, plan.race_sizes, plan.has_final) == ("final", (8,), False)


def test_nine_to_twelve_sprinters_run_one_round_of_two_races_placed_by_time() -> None:
    for starters in range(9, 13):
        plan = plan_group(starters, SPRINT)
        assert plan.first_round == "timed_final"
        assert len(plan.race_sizes) == 2
        assert not plan.has_final


def test_nine_sprinters_split_five_and_four() -> None:
    assert plan_group(9, SPRINT).race_sizes == (5, 4)


def test_thirteen_sprinters_run_heats_and_the_eight_fastest_a_final() -> None:
    plan = plan_group(13, SPRINT)
    assert (plan.first_round, plan.race_sizes, plan.final_size) == ("heat", (7, 6), 8)
    assert plan.race_count == 3


def test_twenty_five_runners_of_1000m_run_one_race_which_is_the_final() -> None:
    assert plan_group(25, MIDDLE).first_round == "final"


def test_twenty_six_runners_of_1000m_run_two_heats_and_a_final_of_twenty() -> None:
    plan = plan_group(26, MIDDLE)
    assert (plan.first_round, plan.race_sizes, plan.final_size) == ("heat", (13, 13), 20)


def test_3000m_runs_races_of_at_most_25_in_one_round() -> None:
    assert plan_group(25, LONG).race_sizes == (25,)
    plan = plan_group(60, LONG)
    assert (plan.first_round, plan.race_sizes, plan.has_final) == (
        "timed_final",
        (20, 20, 20),
        False,
    )


def test_an_empty_group_has_no_race() -> None:
    assert plan_group(0, SPRINT).race_sizes == ()


def test_the_draw_is_reproducible_for_a_seed_whatever_the_entry_order() -> None:
    field = entrants(30)
    first = draw_group(GROUP, field, SPRINT, "2024/100m/M/18-34", EDITION.lanes)
    second = draw_group(GROUP, list(reversed(field)), SPRINT, "2024/100m/M/18-34", EDITION.lanes)
    assert first == second
    assert first.seed == "2024/100m/M/18-34"
    assert first.seeding == "random_draw"


def test_another_seed_gives_another_draw() -> None:
    field = entrants(30)
    one = draw_group(GROUP, field, SPRINT, "seed-one", EDITION.lanes)
    two = draw_group(GROUP, field, SPRINT, "seed-two", EDITION.lanes)
    assert [race.bibs for race in one.races] != [race.bibs for race in two.races]


def test_entries_with_seed_times_are_seeded_serpentine() -> None:
    field = [Entrant(bib, seed_time_us=bib * 100_000 + 10_000_000) for bib in range(1, 17)]
    drawn = draw_group(GROUP, field, SPRINT, "s", EDITION.lanes)
    assert drawn.seeding == "serpentine"
    assert [sorted(race.bibs) for race in drawn.races] == [
        [1, 4, 5, 8, 9, 12, 13, 16],
        [2, 3, 6, 7, 10, 11, 14, 15],
    ]


def test_round_1_of_the_100m_gets_lanes_by_lot_and_other_distances_none() -> None:
    sprint = draw_group(GROUP, entrants(13), SPRINT, "s", EDITION.lanes)
    for race in sprint.races:
        lanes = [p.lane for p in race.start_list]
        assert None not in lanes
        assert len(set(lanes)) == len(lanes)
    middle = draw_group(RaceGroup("1000m", "M", "18-34"), entrants(30), MIDDLE, "s")
    assert all(p.lane is None for race in middle.races for p in race.start_list)


def test_a_race_in_lanes_needs_the_lane_configuration() -> None:
    with pytest.raises(EngineError):
        draw_group(GROUP, entrants(5), SPRINT, "s")


def test_a_bib_entered_twice_is_refused() -> None:
    with pytest.raises(EngineError):
        draw_group(GROUP, [Entrant(1), Entrant(1)], SPRINT, "s", EDITION.lanes)


# --- properties -------------------------------------------------------------------------------

divisions = st.builds(
    lambda race_max, final, one_round: RaceDivision(
        race_max=race_max,
        final_size=final,
        one_round_max=one_round,
        in_lanes=False,
    ),
    st.integers(1, 30),
    st.one_of(st.none(), st.integers(1, 30)),
    st.one_of(st.none(), st.integers(1, 40)),
)


@given(st.integers(0, 400), st.sampled_from([SPRINT, MIDDLE, LONG]) | divisions)
def test_race_sizes_differ_by_at_most_one_and_never_exceed_the_limit(
    starters: int, division: RaceDivision
) -> None:
    sizes = plan_group(starters, division).race_sizes
    assert sum(sizes) == starters
    assert all(1 <= size <= division.race_max for size in sizes)
    if sizes:
        assert max(sizes) - min(sizes) <= 1
        assert len(sizes) == -(-starters // division.race_max)  # no more races than needed


@given(st.integers(0, 300))
def test_a_sprint_final_never_has_more_than_the_lanes(starters: int) -> None:
    plan = plan_group(starters, SPRINT)
    assert (plan.final_size or 0) <= EDITION.lanes.count
    assert all(size <= EDITION.lanes.count for size in plan.race_sizes)


@st.composite
def fields(draw: st.DrawFn) -> list[Entrant]:
    bibs = draw(st.lists(st.integers(1, 9999), max_size=80, unique=True))
    seeded = draw(st.booleans())
    return [
        Entrant(
            bib, draw(st.one_of(st.none(), st.integers(9_000_000, 20_000_000))) if seeded else None
        )
        for bib in bibs
    ]


@given(fields(), st.text(max_size=12), st.sampled_from([SPRINT, MIDDLE, LONG]))
def test_every_entrant_is_drawn_into_exactly_one_race(
    field: list[Entrant], seed: str, division: RaceDivision
) -> None:
    drawn = draw_group(GROUP, field, division, seed, EDITION.lanes)
    counts = Counter(bib for race in drawn.races for bib in race.bibs)
    assert counts == Counter(e.bib for e in field)
    assert tuple(len(race.bibs) for race in drawn.races) == drawn.format.race_sizes


@given(fields(), st.text(max_size=12))
def test_the_draw_is_reproducible_for_a_seed(field: list[Entrant], seed: str) -> None:
    assert draw_group(GROUP, field, SPRINT, seed, EDITION.lanes) == draw_group(
        GROUP, list(reversed(field)), SPRINT, seed, EDITION.lanes
    )


@given(st.integers(0, 500), st.integers(1, 40))
def test_balanced_sizes_put_the_larger_races_first(runners: int, race_max: int) -> None:
    sizes = balanced_sizes(runners, race_max)
    assert list(sizes) == sorted(sizes, reverse=True)
