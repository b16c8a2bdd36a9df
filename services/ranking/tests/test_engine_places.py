"""Places within a race (RULES §6): finish order, shared places, non-finishers last."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    EngineError,
    Performance,
    Ruling,
    competition_places,
    confirm,
    parse_duration_us,
    place_race,
)

RESULTS = load_edition().results


def t(text: str) -> int:
    return parse_duration_us(text)


def places_of(performances: list[Performance]) -> dict[int, int | None]:
    return {line.bib: line.place for line in place_race("r1", performances, RESULTS).lines}


def test_the_fastest_runner_wins_the_race() -> None:
    places = places_of([Performance.finish(1, t("12.5")), Performance.finish(2, t("11.9"))])
    assert places == {2: 1, 1: 2}


def test_equal_raw_times_share_a_place() -> None:
    result = place_race(
        "r1",
        [
            Performance.finish(1, t("11.50")),
            Performance.finish(2, t("11.62")),
            Performance.finish(3, t("11.62")),
            Performance.finish(4, t("11.70")),
        ],
        RESULTS,
    )
    assert [line.place for line in result.lines] == [1, 2, 2, 4]


def test_raw_times_equal_at_the_thousandth_share_a_place() -> None:
    places = places_of([Performance.finish(1, t("11.6231")), Performance.finish(2, t("11.6234"))])
    assert places == {1: 1, 2: 1}


def test_photo_finish_order_beats_chip_order_so_equal_official_times_get_different_places() -> None:
    result = place_race(
        "r1",
        [
            Performance.finish(1, t("11.621"), source="photo_finish", order_rank=2),
            Performance.finish(2, t("11.621"), source="photo_finish", order_rank=1),
        ],
        RESULTS,
    )
    assert [(line.bib, line.place) for line in result.lines] == [(2, 1), (1, 2)]
    assert result.lines[0].official_time_us == result.lines[1].official_time_us == t("11.63")


def test_a_dead_heat_on_the_photo_shares_a_place() -> None:
    places = places_of(
        [
            Performance.finish(1, t("11.621"), source="photo_finish", order_rank=1),
            Performance.finish(2, t("11.621"), source="photo_finish", order_rank=1),
            Performance.finish(3, t("11.70"), source="photo_finish", order_rank=3),
        ]
    )
    assert places == {1: 1, 2: 1, 3: 3}


def test_a_runner_the_camera_missed_is_placed_among_the_photo_order_by_time() -> None:
    places = places_of(
        [
            Performance.finish(1, t("11.50"), source="photo_finish", order_rank=1),
            Performance.finish(2, t("11.80"), source="photo_finish", order_rank=2),
            Performance.finish(3, t("11.65"), source="chip"),
        ]
    )
    assert places == {1: 1, 3: 2, 2: 3}


def test_official_time_is_shown_rounded_up_and_the_raw_time_is_kept() -> None:
    (line,) = place_race("r1", [Performance.finish(1, t("10.001"))], RESULTS).lines
    assert (line.gun_time_us, line.official_time_us, line.source) == (
        t("10.001"),
        t("10.01"),
        "chip",
    )


def test_non_finishers_have_no_place_and_follow_in_the_order_dnf_dq_dns() -> None:
    result = place_race(
        "r1",
        [
            Performance.ruled(Ruling(5, "DNS")),
            Performance.ruled(Ruling(4, "DQ", "TR16.8", "false start")),
            Performance.ruled(Ruling(3, "DNF")),
            Performance.finish(2, t("12.0")),
            Performance.ruled(Ruling(1, "DQ", "7.12", "headphones")),
        ],
        RESULTS,
    )
    assert [(line.bib, line.place, line.status_text) for line in result.lines] == [
        (2, 1, ""),
        (3, None, "DNF"),
        (1, None, "DQ 7.12"),
        (4, None, "DQ TR16.8"),
        (5, None, "DNS"),
    ]


def test_a_race_with_a_runner_still_without_result_cannot_be_confirmed() -> None:
    result = place_race("r1", [Performance.finish(1, t("12.0")), Performance.awaiting(2)], RESULTS)
    assert [(line.bib, line.status) for line in result.lines] == [(1, "OK"), (2, None)]
    assert result.status == "provisional"
    with pytest.raises(EngineError):
        confirm(result)


def test_the_chief_judge_confirming_a_race_makes_it_official() -> None:
    result = place_race("r1", [Performance.finish(1, t("12.0"))], RESULTS)
    assert confirm(result).status == "official"


def test_a_bib_twice_in_one_race_is_refused() -> None:
    with pytest.raises(EngineError):
        place_race(
            "r1", [Performance.finish(1, t("12.0")), Performance.finish(1, t("12.1"))], RESULTS
        )


# --- properties -------------------------------------------------------------------------------

STATUSES = st.sampled_from(["DNS", "DNF", "DQ"])


@st.composite
def race_performances(draw: st.DrawFn) -> list[Performance]:
    count = draw(st.integers(min_value=0, max_value=30))
    bibs = draw(st.lists(st.integers(1, 999), min_size=count, max_size=count, unique=True))
    # A few distinct times, so that ties are common.
    times = [t("11") + ms * 1000 for ms in range(5)]
    photo = draw(st.booleans())
    performances: list[Performance] = []
    for bib in bibs:
        kind = draw(st.sampled_from(["finish", "finish", "finish", "ruled", "awaiting"]))
        if kind == "finish":
            rank = draw(st.one_of(st.none(), st.integers(1, 10))) if photo else None
            performances.append(
                Performance.finish(bib, draw(st.sampled_from(times)), order_rank=rank)
            )
        elif kind == "ruled":
            status = draw(STATUSES)
            ruling = Ruling(bib, status, "7.12" if status == "DQ" else None)
            performances.append(Performance.ruled(ruling))
        else:
            performances.append(Performance.awaiting(bib))
    return performances


def is_competition_ranking(places: list[int]) -> bool:
    """1, 2, 2, 4: each place is the previous one (a tie) or its position (no gap otherwise)."""
    return all(
        place == index + 1 or (index > 0 and place == places[index - 1])
        for index, place in enumerate(places)
    )


@given(race_performances())
def test_places_form_a_ranking_of_the_finishers(performances: list[Performance]) -> None:
    result = place_race("r1", performances, RESULTS)
    places = [line.place for line in result.lines if line.place is not None]
    assert is_competition_ranking(places)
    assert len(places) == sum(1 for p in performances if p.status == "OK")


@given(race_performances())
def test_every_runner_appears_exactly_once(performances: list[Performance]) -> None:
    result = place_race("r1", performances, RESULTS)
    assert sorted(result.bibs) == sorted(p.bib for p in performances)


@given(race_performances())
def test_finishers_come_first_then_dnf_dq_dns(performances: list[Performance]) -> None:
    result = place_race("r1", performances, RESULTS)
    order = {"OK": 0, None: 1, "DNF": 2, "DQ": 3, "DNS": 4}
    ranks = [order[line.status] for line in result.lines]
    assert ranks == sorted(ranks)
    assert all((line.place is not None) == (line.status == "OK") for line in result.lines)


@given(race_performances())
def test_equal_raw_times_without_a_photo_order_share_a_place(
    performances: list[Performance],
) -> None:
    chips_only = [
        Performance.finish(p.bib, p.gun_time_us) if p.gun_time_us is not None else p
        for p in performances
    ]
    lines = place_race("r1", chips_only, RESULTS).finishers
    for a in lines:
        for b in lines:
            if a.gun_time_us == b.gun_time_us:
                assert a.place == b.place
            elif a.gun_time_us is not None and b.gun_time_us is not None:
                assert (a.place or 0) < (b.place or 0) or a.gun_time_us > b.gun_time_us


@given(st.lists(st.integers(0, 5), max_size=30))
def test_competition_places_of_sorted_values_are_a_ranking(values: list[int]) -> None:
    ordered = sorted(values)
    places = competition_places(ordered, lambda a, b: a == b)
    assert is_competition_ranking(places)
    assert all(
        (places[i] == places[j]) == (ordered[i] == ordered[j])
        for i in range(len(ordered))
        for j in range(len(ordered))
    )
