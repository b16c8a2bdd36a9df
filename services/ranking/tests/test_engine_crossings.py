"""From raw reads to a finish (RULES §6, reg 11.3.8)."""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    START_POINT,
    ChipOwner,
    Crossing,
    FinishRule,
    Passing,
    RaceWindow,
    assign_crossings,
    collapse_reads,
    detect_finishes,
    instant_us,
    parse_duration_us,
)

EDITION = load_edition()
RESULTS = EDITION.results
GUN = instant_us(dt.datetime(2024, 3, 17, 3, 30, tzinfo=dt.UTC))
RULE_100 = FinishRule.of(EDITION.distance("100m"))
RULE_1000 = FinishRule.of(EDITION.distance("1000m"))
RULE_3000 = FinishRule.of(EDITION.distance("3000m"))


def t(text: str) -> int:
    return parse_duration_us(text)


def at(elapsed: str) -> int:
    return GUN + t(elapsed)


def window(*chips: str, over: bool = True, race_id: str = "r1") -> RaceWindow:
    owners = {chip: ChipOwner(int(chip.removeprefix("c"))) for chip in chips}
    return RaceWindow(race_id, GUN, GUN + t("1:00:00") if over else None, owners)


def crossings(*reads: tuple[str, str]) -> tuple[Crossing, ...]:
    return collapse_reads(
        [Passing(chip, at(elapsed), device_sequence=i) for i, (chip, elapsed) in enumerate(reads)],
        RESULTS,
    )


def test_the_config_counts_one_crossing_for_100m_three_for_1000m_eight_for_3000m() -> None:
    assert (RULE_100.crossings, RULE_1000.crossings, RULE_3000.crossings) == (1, 3, 8)


def test_reads_of_one_chip_within_the_cluster_window_collapse_to_the_first() -> None:
    collapsed = crossings(("c7", "12.000"), ("c7", "12.300"), ("c7", "13.100"))
    assert [(c.at_us, c.reads) for c in collapsed] == [(at("12.000"), 3)]


def test_a_read_after_the_cluster_window_is_a_new_crossing() -> None:
    window_us = RESULTS.read_cluster_us
    collapsed = collapse_reads(
        [Passing("c7", GUN + t("60")), Passing("c7", GUN + t("60") + window_us, device_sequence=1)],
        RESULTS,
    )
    assert len(collapsed) == 2


def test_the_same_read_sent_twice_is_kept_once() -> None:
    read = Passing("c7", at("12.0"), device_id="finish-1", device_sequence=42)
    (crossing,) = collapse_reads([read, read], RESULTS)
    assert crossing.reads == 1


def test_a_100m_finish_is_its_one_crossing_with_the_gun_time() -> None:
    detection = detect_finishes(window("c7"), GUN, crossings(("c7", "12.345")), RULE_100)
    finish = detection.finishes[7]
    assert (finish.gun_time_us, finish.crossing_number) == (t("12.345"), 1)
    assert detection.exceptions == ()


def test_a_read_before_the_minimum_plausible_time_is_a_lap_not_a_finish() -> None:
    detection = detect_finishes(
        window("c7"), GUN, crossings(("c7", "4.0"), ("c7", "12.345")), RULE_100
    )
    assert detection.finishes[7].gun_time_us == t("12.345")


def test_a_1000m_finish_is_the_third_crossing() -> None:
    laps = crossings(("c7", "0:40"), ("c7", "1:50"), ("c7", "3:02.5"))
    detection = detect_finishes(window("c7"), GUN, laps, RULE_1000)
    assert (detection.finishes[7].gun_time_us, detection.finishes[7].crossing_number) == (
        t("3:02.5"),
        3,
    )


def test_a_3000m_runner_with_seven_crossings_goes_to_the_judges_once_the_race_is_over() -> None:
    seven = crossings(*[("c7", f"{minutes}:00") for minutes in range(1, 8)])
    running = detect_finishes(window("c7", over=False), GUN, seven, RULE_3000)
    assert running.finishes == {}
    assert running.exceptions == ()  # still running: the eighth crossing may come
    over = detect_finishes(window("c7"), GUN, seven, RULE_3000)
    assert over.finishes == {}
    (exception,) = over.exceptions
    assert (exception.kind, exception.bib) == ("too_few_crossings", 7)


def test_a_3000m_finish_is_the_eighth_crossing_after_the_minimum_time() -> None:
    eight = crossings(*[("c7", f"{minutes}:30") for minutes in range(1, 9)])
    detection = detect_finishes(window("c7"), GUN, eight, RULE_3000)
    assert detection.finishes[7].gun_time_us == t("8:30")


def test_net_time_counts_from_the_runners_own_start_line_crossing() -> None:
    reads = [
        Passing("c7", at("3.2"), timing_point=START_POINT),
        Passing("c7", at("1:00"), device_sequence=1),
        Passing("c7", at("2:00"), device_sequence=2),
        Passing("c7", at("3:10"), device_sequence=3),
    ]
    detection = detect_finishes(window("c7"), GUN, collapse_reads(reads, RESULTS), RULE_1000)
    finish = detection.finishes[7]
    assert (finish.gun_time_us, finish.net_time_us) == (t("3:10"), t("3:06.8"))


def test_a_race_without_a_start_signal_goes_to_the_judges() -> None:
    detection = detect_finishes(window("c7"), None, crossings(("c7", "12.3")), RULE_100)
    assert [e.kind for e in detection.exceptions] == ["start_missing"]


def test_an_unknown_chip_goes_to_the_judges() -> None:
    sort = assign_crossings(crossings(("c99", "12.0")), [window("c7")], known_chips={"c7"})
    (exception,) = sort.exceptions
    assert (exception.kind, exception.chip) == ("unknown_chip", "c99")


def test_a_chip_read_in_a_race_it_does_not_belong_to_goes_to_the_judges() -> None:
    sort = assign_crossings(crossings(("c8", "12.0")), [window("c7")], known_chips={"c7", "c8"})
    (exception,) = sort.exceptions
    assert (exception.kind, exception.chip, exception.race_id) == ("chip_not_in_race", "c8", "r1")
    assert "11.3.5" in exception.detail


def test_a_read_outside_every_race_window_goes_to_the_judges() -> None:
    early = collapse_reads([Passing("c7", GUN - t("600"))], RESULTS)
    sort = assign_crossings(early, [window("c7")], known_chips={"c7"})
    assert [e.kind for e in sort.exceptions] == ["read_outside_race_window"]


def test_crossings_go_to_the_race_the_chip_runs_in() -> None:
    first = RaceWindow("r1", GUN, GUN + t("5:00"), {"c7": ChipOwner(7)})
    second = RaceWindow("r2", GUN + t("5:00.000001"), None, {"c8": ChipOwner(8)})
    reads = crossings(("c7", "12.0"), ("c8", "5:12.0"))
    sort = assign_crossings(reads, [first, second])
    assert [c.chip for c in sort.by_race["r1"]] == ["c7"]
    assert [c.chip for c in sort.by_race["r2"]] == ["c8"]
    assert sort.exceptions == ()


def test_a_crossing_of_a_chip_not_on_the_list_given_to_a_race_goes_to_the_judges() -> None:
    detection = detect_finishes(window("c7"), GUN, crossings(("c8", "12.0")), RULE_100)
    assert [e.kind for e in detection.exceptions] == ["chip_not_in_race"]


@given(
    st.lists(
        st.tuples(st.sampled_from(["c1", "c2", "c3"]), st.integers(0, 30_000_000)), max_size=60
    )
)
def test_no_read_is_lost_between_raw_reads_and_crossings(reads: list[tuple[str, int]]) -> None:
    passings = [
        Passing(chip, GUN + offset, device_sequence=i) for i, (chip, offset) in enumerate(reads)
    ]
    collapsed = collapse_reads(passings, RESULTS)
    assert sum(c.reads for c in collapsed) == len(
        {(p.chip, p.at_us, p.device_sequence) for p in passings}
    )
    for chip in {"c1", "c2", "c3"}:
        instants = [c.at_us for c in collapsed if c.chip == chip]
        assert instants == sorted(instants)
        assert all(b - a >= RESULTS.read_cluster_us for a, b in pairwise(instants))


@given(
    st.lists(
        st.tuples(st.sampled_from(["c1", "c2", "c9"]), st.integers(-60_000_000, 120_000_000)),
        max_size=40,
    )
)
def test_every_crossing_goes_to_a_race_or_to_the_judges(reads: list[tuple[str, int]]) -> None:
    passings = [
        Passing(chip, GUN + offset, device_sequence=i) for i, (chip, offset) in enumerate(reads)
    ]
    collapsed = collapse_reads(passings, RESULTS)
    race = RaceWindow("r1", GUN, GUN + t("60"), {"c1": ChipOwner(1)})
    sort = assign_crossings(collapsed, [race], known_chips={"c1", "c2"})
    assert len(sort.by_race["r1"]) + len(sort.exceptions) == len(collapsed)
