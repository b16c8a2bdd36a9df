"""Lanes of the 100 m (RULES §5; WA TR 20.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import LANE_DRAW_BEFORE_2023, Lanes, load_edition
from copa_ranking.engine import (
    Advancement,
    EngineError,
    Qualifier,
    draw_final,
    draw_final_lanes,
    draw_lanes_by_lot,
    parse_duration_us,
)

EDITION = load_edition()
LANES = EDITION.lanes
SPRINT = EDITION.distance("100m").division


def test_the_best_four_draw_lanes_3_to_6_the_fifth_and_sixth_2_and_7_the_last_two_1_and_8() -> None:
    lanes = draw_final_lanes([11, 12, 13, 14, 15, 16, 17, 18], LANES, "final-seed")
    assert {lanes[b] for b in (11, 12, 13, 14)} == {3, 4, 5, 6}
    assert {lanes[b] for b in (15, 16)} == {2, 7}
    assert {lanes[b] for b in (17, 18)} == {1, 8}


def test_the_older_lane_table_is_a_configuration_option() -> None:
    older = Lanes(count=8, final_draw=LANE_DRAW_BEFORE_2023)
    lanes = draw_final_lanes([11, 12, 13, 14, 15, 16, 17, 18], older, "final-seed")
    assert {lanes[b] for b in (15, 16)} == {7, 8}
    assert {lanes[b] for b in (17, 18)} == {1, 2}


def test_the_final_ranks_qualifiers_by_round_1_time_for_the_lane_table() -> None:
    times = ["11.10", "10.90", "11.50", "11.00", "11.40", "11.30", "11.20", "11.60"]
    advancement = Advancement(
        tuple(
            Qualifier(bib, "q", "heat-1", 1, parse_duration_us(time))
            for bib, time in enumerate(times, start=1)
        )
    )
    final = draw_final(advancement, SPRINT, EDITION.results, "seed", LANES)
    lane = {p.bib: p.lane for p in final.start_list}
    # Fastest four: 2 (10.90), 4 (11.00), 1 (11.10), 7 (11.20).
    assert {lane[b] for b in (2, 4, 1, 7)} == {3, 4, 5, 6}
    assert {lane[b] for b in (6, 5)} == {2, 7}
    assert {lane[b] for b in (3, 8)} == {1, 8}
    assert [p.bib for p in final.start_list] == [2, 4, 1, 7, 6, 5, 3, 8]
    assert final.round == "final"


def test_a_small_race_uses_the_middle_lanes() -> None:
    lanes = draw_lanes_by_lot([1, 2, 3, 4], LANES, "s")
    assert set(lanes.values()) == {3, 4, 5, 6}


def test_more_runners_than_lanes_is_refused() -> None:
    with pytest.raises(EngineError):
        draw_lanes_by_lot(list(range(1, 10)), LANES, "s")


@given(st.lists(st.integers(1, 999), max_size=8, unique=True), st.text(max_size=8))
def test_round_1_lanes_are_distinct_reproducible_and_on_the_track(
    bibs: list[int], seed: str
) -> None:
    lanes = draw_lanes_by_lot(bibs, LANES, seed)
    assert sorted(lanes) == sorted(bibs)
    assert len(set(lanes.values())) == len(bibs)
    assert all(1 <= lane <= LANES.count for lane in lanes.values())
    assert lanes == draw_lanes_by_lot(list(reversed(bibs)), LANES, seed)


@given(st.lists(st.integers(1, 999), max_size=8, unique=True), st.text(max_size=8))
def test_final_lanes_follow_the_table_tiers(bibs: list[int], seed: str) -> None:
    lanes = draw_final_lanes(bibs, LANES, seed)
    assert len(set(lanes.values())) == len(bibs)
    position = 0
    for tier in LANES.final_draw:
        for bib in bibs[position : position + len(tier)]:
            assert lanes[bib] in tier
        position += len(tier)
