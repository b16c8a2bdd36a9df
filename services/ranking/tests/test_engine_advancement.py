"""Who goes through to the final (reg 11.3.2, 11.3.3; RULES §5; WA TR 21.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    AdvancementRule,
    EngineError,
    Performance,
    RaceResult,
    Ruling,
    parse_duration_us,
    place_race,
    select_qualifiers,
)

EDITION = load_edition()
RESULTS = EDITION.results
SPRINT_RULE = AdvancementRule.copa(EDITION.distance("100m").division, EDITION.lanes)
MIDDLE_RULE = AdvancementRule.copa(EDITION.distance("1000m").division, EDITION.lanes)


def t(text: str) -> int:
    return parse_duration_us(text)


def race(race_id: str, times: dict[int, str]) -> RaceResult:
    return place_race(
        race_id, [Performance.finish(bib, t(time)) for bib, time in times.items()], RESULTS
    )


def sprint_heats() -> list[RaceResult]:
    """13 sprinters: bib n ran 11.00 + n/100 s, so bib 9 is the ninth fastest."""
    first = {bib: f"11.{bib:02d}" for bib in (1, 3, 5, 7, 9, 11, 13)}
    second = {bib: f"11.{bib:02d}" for bib in (2, 4, 6, 8, 10, 12)}
    return [race("heat-1", first), race("heat-2", second)]


def test_copa_rules_take_nobody_by_place_and_the_final_size_by_time() -> None:
    assert (SPRINT_RULE.by_place, SPRINT_RULE.by_time, SPRINT_RULE.room) == (0, 8, 8)
    assert (MIDDLE_RULE.by_place, MIDDLE_RULE.by_time, MIDDLE_RULE.room) == (0, 20, None)


def test_eight_fastest_across_the_heats_run_the_final() -> None:
    advancement = select_qualifiers(sprint_heats(), SPRINT_RULE, RESULTS, "seed")
    assert advancement.bibs == (1, 2, 3, 4, 5, 6, 7, 8)
    assert {q.mark for q in advancement.qualifiers} == {"q"}
    assert advancement.lots == ()


def test_ninth_fastest_runner_misses_final() -> None:
    advancement = select_qualifiers(sprint_heats(), SPRINT_RULE, RESULTS, "seed")
    assert 9 not in advancement.bibs
    assert advancement.mark_of(9) is None
    assert advancement.mark_of(8) == "q"


def test_a_heat_winner_slower_than_eight_others_misses_the_final() -> None:
    heats = [
        race("heat-1", {bib: f"11.{bib:02d}" for bib in range(1, 9)}),
        race("heat-2", {20: "12.50", 21: "12.60", 22: "12.70", 23: "12.80", 24: "12.90"}),
    ]
    advancement = select_qualifiers(heats, SPRINT_RULE, RESULTS, "seed")
    assert 20 not in advancement.bibs


def test_the_twenty_fastest_of_1000m_run_the_final() -> None:
    heats = [
        race("heat-1", {bib: f"3:{bib:02d}.00" for bib in range(1, 27, 2)}),
        race("heat-2", {bib: f"3:{bib:02d}.00" for bib in range(2, 27, 2)}),
    ]
    advancement = select_qualifiers(heats, MIDDLE_RULE, RESULTS, "seed")
    assert advancement.bibs == tuple(range(1, 21))


def test_a_tie_for_the_last_spot_is_broken_by_the_thousandths() -> None:
    heats = sprint_heats()
    heats[1] = race("heat-2", {2: "11.02", 4: "11.04", 6: "11.06", 8: "11.0851", 10: "11.10"})
    heats[0] = race("heat-1", {1: "11.01", 3: "11.03", 5: "11.05", 7: "11.07", 9: "11.0849"})
    # 8 and 9 share 11.09 officially; at 1/1000 s 9 ran 11.085 and 8 ran 11.086.
    advancement = select_qualifiers(heats, SPRINT_RULE, RESULTS, "seed")
    assert 9 in advancement.bibs
    assert 8 not in advancement.bibs


def test_runners_still_tied_at_the_thousandth_all_go_through_when_there_is_room() -> None:
    times = {bib: f"3:{bib:02d}.00" for bib in range(1, 20)}
    times.update({20: "3:20.00", 21: "3:20.00", 22: "3:30.00"})
    heats = [
        race("heat-1", {b: v for b, v in times.items() if b % 2}),
        race("heat-2", {b: v for b, v in times.items() if not b % 2}),
    ]
    advancement = select_qualifiers(heats, MIDDLE_RULE, RESULTS, "seed")
    assert len(advancement.bibs) == 21  # 1000 m runs without lanes: both tied runners go
    assert {20, 21} <= set(advancement.bibs)
    assert advancement.lots == ()


def test_a_tie_for_the_last_lane_is_decided_by_a_recorded_reproducible_lot() -> None:
    heats = [
        race("heat-1", {1: "11.01", 3: "11.03", 5: "11.05", 7: "11.07", 9: "11.08"}),
        race("heat-2", {2: "11.02", 4: "11.04", 6: "11.06", 8: "11.08", 10: "11.10"}),
    ]
    advancement = select_qualifiers(heats, SPRINT_RULE, RESULTS, "lot-seed")
    assert len(advancement.bibs) == 8
    (lot,) = advancement.lots
    assert (lot.tied, lot.seed, len(lot.drawn)) == ((8, 9), "lot-seed/q", 1)
    assert set(lot.drawn) <= set(advancement.bibs)
    assert select_qualifiers(heats, SPRINT_RULE, RESULTS, "lot-seed") == advancement


def test_first_k_by_place_then_the_next_m_by_time_in_wa_form() -> None:
    heats = [
        race("heat-1", {1: "10.50", 2: "10.60", 3: "10.70", 4: "10.80"}),
        race("heat-2", {5: "11.50", 6: "11.60", 7: "11.70", 8: "11.80"}),
    ]
    advancement = select_qualifiers(heats, AdvancementRule(2, 2), RESULTS, "seed")
    assert [(q.bib, q.mark) for q in advancement.qualifiers] == [
        (1, "Q"),
        (5, "Q"),
        (2, "Q"),
        (6, "Q"),
        (3, "q"),
        (4, "q"),
    ]


def test_non_finishers_never_qualify() -> None:
    heat = place_race(
        "heat-1",
        [Performance.finish(1, t("11.0")), Performance.ruled(Ruling(2, "DQ", "TR16.8"))],
        RESULTS,
    )
    advancement = select_qualifiers([heat], SPRINT_RULE, RESULTS, "seed")
    assert advancement.bibs == (1,)


# --- properties -------------------------------------------------------------------------------


@st.composite
def rounds(draw: st.DrawFn) -> list[RaceResult]:
    races = draw(st.integers(1, 6))
    results: list[RaceResult] = []
    bib = 1
    for number in range(races):
        size = draw(st.integers(1, 8))
        times = {}
        for _ in range(size):
            # Few distinct thousandths: ties are frequent.
            times[bib] = t("11") + draw(st.integers(0, 6)) * 1000
            bib += 1
        results.append(
            place_race(
                f"heat-{number}",
                [Performance.finish(b, time) for b, time in times.items()],
                RESULTS,
            )
        )
    return results


@given(rounds(), st.text(max_size=8))
def test_a_sprint_final_never_has_more_runners_than_lanes(
    heats: list[RaceResult], seed: str
) -> None:
    advancement = select_qualifiers(heats, SPRINT_RULE, RESULTS, seed)
    finishers = sum(len(h.finishers) for h in heats)
    assert len(advancement.bibs) == min(SPRINT_RULE.by_time, finishers)
    assert len(set(advancement.bibs)) == len(advancement.bibs)


@given(rounds(), st.text(max_size=8))
def test_nobody_slower_than_a_non_qualifier_goes_through(
    heats: list[RaceResult], seed: str
) -> None:
    advancement = select_qualifiers(heats, SPRINT_RULE, RESULTS, seed)
    through = set(advancement.bibs)
    lines = [line for h in heats for line in h.finishers]
    slowest_in = max((line.gun_time_us or 0 for line in lines if line.bib in through), default=0)
    fastest_out = min(
        (line.gun_time_us or 0 for line in lines if line.bib not in through), default=None
    )
    if fastest_out is not None:
        assert slowest_in <= fastest_out
    assert select_qualifiers(heats, SPRINT_RULE, RESULTS, seed) == advancement


@given(rounds(), st.text(max_size=8))
def test_with_room_every_runner_tied_for_the_last_spot_goes_through(
    heats: list[RaceResult], seed: str
) -> None:
    rule = AdvancementRule(0, 8, None)
    advancement = select_qualifiers(heats, rule, RESULTS, seed)
    assert advancement.lots == ()
    through = set(advancement.bibs)
    lines = [line for h in heats for line in h.finishers]
    for a in lines:
        for b in lines:
            if a.gun_time_us == b.gun_time_us:
                assert (a.bib in through) == (b.bib in through)


def test_runners_sharing_the_last_place_by_position_all_go_through_when_there_is_room() -> None:
    heats = [
        race("heat-1", {1: "10.50", 2: "10.50", 3: "10.70"}),
        race("heat-2", {4: "11.50", 5: "11.60"}),
    ]
    advancement = select_qualifiers(heats, AdvancementRule(1, 1, None), RESULTS, "seed")
    assert [(q.bib, q.mark) for q in advancement.qualifiers] == [
        (1, "Q"),
        (2, "Q"),
        (4, "Q"),
        (3, "q"),
    ]


def test_runners_sharing_the_last_place_by_position_draw_lots_when_lanes_are_short() -> None:
    heats = [
        race("heat-1", {1: "10.50", 2: "10.50", 3: "10.70"}),
        race("heat-2", {4: "11.50", 5: "11.60"}),
    ]
    advancement = select_qualifiers(heats, AdvancementRule(1, 1, 3), RESULTS, "seed")
    assert len(advancement.bibs) == 3
    (lot,) = advancement.lots
    assert lot.tied == (1, 2)
    assert len(lot.drawn) == 1
    assert set(lot.drawn) <= set(advancement.bibs)


def test_a_distance_without_a_final_has_no_advancement() -> None:
    division = EDITION.distance("3000m").division
    with pytest.raises(EngineError, match="no final"):
        AdvancementRule.copa(division, EDITION.lanes)
