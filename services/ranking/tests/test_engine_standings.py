"""Standings: finals, timed finals, categories, genders, winners (reg 11.1-11.3.6)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    EngineError,
    Performance,
    RaceGroup,
    RaceResult,
    Ruling,
    StandingEntry,
    StandingLine,
    Standings,
    confirm,
    gender_standings,
    group_standings,
    parse_duration_us,
    place_race,
    plan_group,
    rank_by_time,
)

EDITION = load_edition()
RESULTS = EDITION.results
SPRINT = EDITION.distance("100m").division
LONG = EDITION.distance("3000m").division
MEN_18 = RaceGroup("100m", "M", "18-34")
MEN_35 = RaceGroup("100m", "M", "35-44")


def t(text: str) -> int:
    return parse_duration_us(text)


def race(race_id: str, performances: list[Performance]) -> RaceResult:
    return place_race(race_id, performances, RESULTS)


def finishes(times: dict[int, str]) -> list[Performance]:
    return [Performance.finish(bib, t(time)) for bib, time in times.items()]


def sprint_group() -> tuple[list[RaceResult], RaceResult]:
    """13 sprinters in two heats; the eight fastest (bibs 1-8) run the final."""
    heats = [
        race("heat-1", finishes({b: f"11.{b:02d}" for b in (1, 3, 5, 7, 9, 11, 13)})),
        race("heat-2", finishes({b: f"11.{b:02d}" for b in (2, 4, 6, 8, 10, 12)})),
    ]
    # In the final bib 8 wins and bib 1 is last, slower than any heat time of 9-13.
    final_times = {8: "10.95", 7: "10.97", 6: "10.99", 5: "11.00", 4: "11.02", 3: "11.03"}
    final_times.update({2: "11.04", 1: "11.50"})
    return heats, race("final", finishes(final_times))


def test_the_final_gives_places_one_to_eight_and_round_one_times_the_rest() -> None:
    heats, final = sprint_group()
    standings = group_standings(MEN_18, plan_group(13, SPRINT), heats, RESULTS, final)
    assert [(e.bib, e.place) for e in standings.entries] == [
        (8, 1), (7, 2), (6, 3), (5, 4), (4, 5), (3, 6), (2, 7), (1, 8),
        (9, 9), (10, 10), (11, 11), (12, 12), (13, 13),
    ]  # fmt: skip
    assert standings.entry_of(8).race_id == "final"
    assert standings.entry_of(9).race_id == "heat-1"


def test_a_finalist_slower_in_the_final_still_ranks_above_every_non_finalist() -> None:
    heats, final = sprint_group()
    standings = group_standings(MEN_18, plan_group(13, SPRINT), heats, RESULTS, final)
    assert standings.entry_of(1).place == 8
    assert standings.entry_of(1).gun_time_us == t("11.50")  # slower than bib 9's 11.09


def test_a_finalist_who_does_not_finish_the_final_has_no_place_and_keeps_the_heats_places() -> None:
    heats, _ = sprint_group()
    final = race(
        "final",
        [*finishes({b: f"11.{b:02d}" for b in range(2, 9)}), Performance.ruled(Ruling(1, "DNF"))],
    )
    standings = group_standings(MEN_18, plan_group(13, SPRINT), heats, RESULTS, final)
    assert standings.entry_of(1).place is None
    assert standings.entry_of(9).place == 9
    assert standings.entries[-1].bib == 1


def test_a_timed_final_places_by_time_across_its_races() -> None:
    group = RaceGroup("3000m", "F", "35-44")
    races = [
        race("r1", finishes({1: "12:10", 2: "12:40", 3: "13:10"})),
        race("r2", finishes({4: "12:20", 5: "12:30", 6: "14:00"})),
    ]
    standings = group_standings(group, plan_group(30, LONG), races, RESULTS)
    assert [e.bib for e in standings.entries] == [1, 4, 5, 2, 3, 6]
    assert [e.place for e in standings.entries] == [1, 2, 3, 4, 5, 6]


def test_equal_raw_times_in_different_races_share_a_place() -> None:
    group = RaceGroup("3000m", "F", "35-44")
    races = [
        race("r1", finishes({1: "12:10.001", 2: "12:40"})),
        race("r2", finishes({3: "12:10.001", 4: "12:41"})),
    ]
    standings = group_standings(group, plan_group(30, LONG), races, RESULTS)
    assert [(e.bib, e.place) for e in standings.entries] == [(1, 1), (3, 1), (2, 3), (4, 4)]


def test_one_race_keeps_its_photo_finish_order() -> None:
    final = race(
        "final",
        [
            Performance.finish(1, t("11.201"), source="photo_finish", order_rank=2),
            Performance.finish(2, t("11.201"), source="photo_finish", order_rank=1),
        ],
    )
    standings = group_standings(MEN_18, plan_group(2, SPRINT), [final], RESULTS)
    assert [(e.bib, e.place) for e in standings.entries] == [(2, 1), (1, 2)]


def test_the_three_fastest_of_a_category_are_its_winners() -> None:
    heats, final = sprint_group()
    standings = group_standings(MEN_18, plan_group(13, SPRINT), heats, RESULTS, final)
    assert [e.bib for e in standings.winners(RESULTS)] == [8, 7, 6]


def test_a_shared_third_place_makes_both_winners() -> None:
    final = race("final", finishes({1: "11.0", 2: "11.1", 3: "11.2", 4: "11.2", 5: "11.3"}))
    standings = group_standings(MEN_18, plan_group(5, SPRINT), [final], RESULTS)
    assert [(e.bib, e.place) for e in standings.winners(RESULTS)] == [
        (1, 1),
        (2, 2),
        (3, 3),
        (4, 3),
    ]


def test_non_finishers_come_after_the_finishers_in_the_order_dnf_dq_dns() -> None:
    group = RaceGroup("3000m", "M", "55+")
    races = [
        race(
            "r1",
            [
                Performance.ruled(Ruling(1, "DNS")),
                Performance.ruled(Ruling(2, "DQ", "7.11", "BIB transfer")),
                Performance.finish(3, t("15:00")),
            ],
        ),
        race("r2", [Performance.ruled(Ruling(4, "DNF")), Performance.finish(5, t("14:00"))]),
    ]
    standings = group_standings(group, plan_group(30, LONG), races, RESULTS)
    assert [(e.bib, e.place, e.status_text) for e in standings.entries] == [
        (5, 1, ""),
        (3, 2, ""),
        (4, None, "DNF"),
        (2, None, "DQ 7.11"),
        (1, None, "DNS"),
    ]
    assert standings.entrants_count == 5


def test_standings_stay_provisional_until_the_chief_judge_confirms_every_race() -> None:
    heats, final = sprint_group()
    plan = plan_group(13, SPRINT)
    assert group_standings(MEN_18, plan, heats, RESULTS, final).status == "provisional"
    official_heats = [confirm(h) for h in heats]
    assert group_standings(MEN_18, plan, official_heats, RESULTS).status == "provisional"
    assert group_standings(MEN_18, plan, official_heats, RESULTS, final).status == "provisional"
    standings = group_standings(MEN_18, plan, official_heats, RESULTS, confirm(final))
    assert standings.status == "official"


def test_the_overall_standings_of_a_gender_rank_every_category_by_gun_time() -> None:
    young = group_standings(
        MEN_18,
        plan_group(3, SPRINT),
        [race("a", finishes({1: "11.0", 2: "12.0", 3: "13.0"}))],
        RESULTS,
    )
    older = group_standings(
        MEN_35,
        plan_group(3, SPRINT),
        [race("b", [*finishes({4: "11.5", 5: "12.0"}), Performance.ruled(Ruling(6, "DNS"))])],
        RESULTS,
    )
    overall = gender_standings("100m", "M", [young, older], RESULTS)
    assert overall.category is None
    assert [(e.bib, e.place, e.category) for e in overall.entries] == [
        (1, 1, "18-34"),
        (4, 2, "35-44"),
        (2, 3, "18-34"),
        (5, 3, "35-44"),
        (3, 5, "18-34"),
        (6, None, "35-44"),
    ]
    assert overall.entrants_count == 6


def test_a_field_across_genders_and_races_is_ranked_by_raw_gun_time() -> None:
    men = group_standings(
        MEN_18, plan_group(2, SPRINT), [race("a", finishes({1: "11.0", 2: "12.0001"}))], RESULTS
    )
    women = group_standings(
        RaceGroup("100m", "F", "18-34"),
        plan_group(3, SPRINT),
        [race("b", [*finishes({3: "12.0004", 4: "11.5"}), Performance.ruled(Ruling(5, "DNF"))])],
        RESULTS,
    )
    field = rank_by_time([*women.entries, *men.entries], RESULTS)
    # 12.0001 and 12.0004 are equal at the thousandth (RULES §5): one place, listed by BIB.
    assert [(e.bib, e.place) for e in field] == [(1, 1), (4, 2), (2, 3), (3, 3), (5, None)]
    assert field[0].category == "18-34"
    assert field[0].race_id == "a"


def test_ranked_by_net_time_the_runner_who_crossed_the_start_later_can_win() -> None:
    entries = race(
        "r",
        [
            Performance.finish(1, t("20:00"), net_time_us=t("19:50")),
            Performance.finish(2, t("20:10"), net_time_us=t("19:30")),
            Performance.finish(3, t("19:00")),  # the start mat missed the chip: no net time
            Performance.ruled(Ruling(4, "DNS")),
        ],
    )
    table = group_standings(MEN_18, plan_group(4, SPRINT), [entries], RESULTS)
    by_gun = rank_by_time(table.entries, RESULTS)
    by_net = rank_by_time(table.entries, RESULTS, "net")
    assert [(e.bib, e.place) for e in by_gun] == [(3, 1), (1, 2), (2, 3), (4, None)]
    assert [(e.bib, e.place) for e in by_net] == [(2, 1), (1, 2), (3, None), (4, None)]
    assert gender_standings("100m", "M", [table], RESULTS, "net").entries == by_net


def test_a_field_with_a_bib_twice_is_refused() -> None:
    table = group_standings(
        MEN_18, plan_group(1, SPRINT), [race("a", finishes({1: "11.0"}))], RESULTS
    )
    with pytest.raises(EngineError):
        rank_by_time([*table.entries, *table.entries], RESULTS)


# --- properties -------------------------------------------------------------------------------


@st.composite
def timed_final_rounds(draw: st.DrawFn) -> list[RaceResult]:
    results = []
    bib = 1
    for number in range(draw(st.integers(1, 4))):
        performances: list[Performance] = []
        for _ in range(draw(st.integers(1, 25))):
            if draw(st.integers(0, 9)) == 0:
                performances.append(
                    Performance.ruled(Ruling(bib, draw(st.sampled_from(["DNS", "DNF"]))))
                )
            else:
                performances.append(
                    Performance.finish(bib, t("12:00") + draw(st.integers(0, 20)) * 1000)
                )
            bib += 1
        results.append(place_race(f"r{number}", performances, RESULTS))
    return results


@given(timed_final_rounds())
def test_timed_final_standings_list_every_runner_once_in_a_valid_ranking(
    races: list[RaceResult],
) -> None:
    group = RaceGroup("3000m", "M", "18-34")
    standings = group_standings(group, plan_group(100, LONG), races, RESULTS)
    assert sorted(e.bib for e in standings.entries) == sorted(b for r in races for b in r.bibs)
    places = [e.place for e in standings.entries if e.place is not None]
    assert all(p == i + 1 or (i and p == places[i - 1]) for i, p in enumerate(places))
    finishers = [e for e in standings.entries if e.place is not None]
    for a in finishers:
        for b in finishers:
            if a.gun_time_us == b.gun_time_us:
                assert a.place == b.place


@given(timed_final_rounds(), st.sampled_from(["gun", "net"]), st.data())
def test_a_field_ranked_by_time_is_a_valid_ranking_of_its_finishers(
    races: list[RaceResult], basis: str, data: st.DataObject
) -> None:
    group = RaceGroup("3000m", "M", "18-34")
    entries = [
        # a start-line offset of 0-3 ms, or no net time at all (the start mat missed the chip)
        e._replace(net_time_us=None if offset is None else e.gun_time_us - offset)
        if e.gun_time_us is not None
        else e
        for e in group_standings(group, plan_group(100, LONG), races, RESULTS).entries
        for offset in [data.draw(st.none() | st.integers(0, 3_000))]
    ]
    field = rank_by_time(reversed(entries), RESULTS, basis)  # type: ignore[arg-type]
    assert sorted(e.bib for e in field) == sorted(e.bib for e in entries)
    placed = [e for e in field if e.place is not None]
    assert all(e.place is None for e in field[len(placed) :])  # placed ones come first
    for index, entry in enumerate(placed):
        time = entry.gun_time_us if basis == "gun" else entry.net_time_us
        assert time is not None
        if index == 0:
            assert entry.place == 1
            continue
        before = placed[index - 1]
        before_time = before.gun_time_us if basis == "gun" else before.net_time_us
        assert before_time is not None
        tied = -(-before_time // 1000) == -(-time // 1000)
        assert entry.place == (before.place if tied else index + 1)


# --- the ranking against a plain reference (issue 5: the fast paths keep the rules exact) ------


def reference_ranking(
    entries: list[tuple[int, str | None, int | None]], resolution: int
) -> list[tuple[int | None, int]]:
    """(place, BIB) in listing order from (BIB, status, raw time), written from RULES §5, §6:
    places by raw time at 1/1000 s rounded up, equal keys sharing (1, 2, 2, 4), ties by BIB;
    then the unplaced (no result yet or no time of the basis), DNF, DQ, DNS, each by BIB."""
    timed = sorted(
        (-(-time // resolution), bib)
        for bib, status, time in entries
        if status == "OK" and time is not None
    )
    listing: list[tuple[int | None, int]] = []
    for index, (key, bib) in enumerate(timed):
        shared = index and key == timed[index - 1][0]
        listing.append((listing[-1][0] if shared else index + 1, bib))
    order = {None: 0, "OK": 0, "DNF": 1, "DQ": 2, "DNS": 3}
    unplaced = sorted(
        (order[status], bib) for bib, status, time in entries if status != "OK" or time is None
    )
    return listing + [(None, bib) for _, bib in unplaced]


@st.composite
def crowded_fields(draw: st.DrawFn) -> list[list[Performance]]:
    """Races of one group with shuffled BIBs and raw times a few microseconds to a few
    milliseconds apart: many runners share a thousandth, across races, in any BIB order."""
    count = draw(st.integers(1, 60))
    bibs = draw(st.permutations(range(1, count + 1)))
    performances: list[Performance] = []
    for bib in bibs:
        kind = draw(st.integers(0, 11))
        if kind == 0:
            performances.append(
                Performance.ruled(Ruling(bib, draw(st.sampled_from(["DNS", "DNF"]))))
            )
        elif kind == 1:
            performances.append(Performance.ruled(Ruling(bib, "DQ", "7.12")))
        else:
            gun = t("9:00") + draw(st.integers(0, 4_000))
            offset = draw(st.none() | st.integers(0, 2_500))
            net = None if offset is None else gun - offset
            performances.append(Performance.finish(bib, gun, net_time_us=net))
    size = draw(st.integers(1, 25))
    return [performances[i : i + size] for i in range(0, len(performances), size)]


@given(crowded_fields(), crowded_fields(), st.sampled_from(["gun", "net"]))
def test_category_gender_and_field_rankings_match_the_plain_reference(
    men_18: list[list[Performance]], men_35: list[list[Performance]], basis: str
) -> None:
    tables = []
    for category, races, shift in (("18-34", men_18, 0), ("35-44", men_35, 1000)):
        group = RaceGroup("3000m", "M", category)
        results = [
            race(
                f"{category}/{n}",
                [dataclasses.replace(p, bib=p.bib + shift) for p in performances],
            )
            for n, performances in enumerate(races, start=1)
        ]
        size = sum(len(r.lines) for r in results)
        table = group_standings(group, plan_group(size, LONG), results, RESULTS)
        if len(results) > 1:  # a single race keeps its own finish order (RULES §6)
            lines = [line for r in results for line in r.lines]
            expected = reference_ranking(
                [(x.bib, x.status, x.gun_time_us) for x in lines], RESULTS.tie_resolution_us
            )
            assert [(e.place, e.bib) for e in table.entries] == expected
        tables.append(table)
    everyone = [e for table in tables for e in table.entries]
    overall = gender_standings("3000m", "M", tables, RESULTS)
    assert [(e.place, e.bib) for e in overall.entries] == reference_ranking(
        [(e.bib, e.status, e.gun_time_us) for e in everyone], RESULTS.tie_resolution_us
    )
    field = rank_by_time(reversed(everyone), RESULTS, basis)  # type: ignore[arg-type]
    time_of = "gun_time_us" if basis == "gun" else "net_time_us"
    assert [(e.place, e.bib) for e in field] == reference_ranking(
        [(e.bib, e.status, getattr(e, time_of)) for e in everyone], RESULTS.tie_resolution_us
    )
    # only the place changes: every other field is the entry's own
    by_bib = {e.bib: e for e in everyone}
    assert all(e[1:] == by_bib[e.bib][1:] for e in (*overall.entries, *field))
    assert all(type(e) is StandingEntry for e in (*overall.entries, *field))


def test_runners_sharing_a_thousandth_across_races_are_listed_by_bib() -> None:
    # raw times 1 us apart, in the reverse order of the BIBs: one place, listed 3, 5, 7
    races = [
        race("r1", [Performance.finish(7, t("9:00.000") - 2), Performance.finish(9, t("9:01"))]),
        race("r2", [Performance.finish(5, t("9:00.000") - 1)]),
        race("r3", [Performance.finish(3, t("9:00.000")), Performance.finish(1, t("8:59"))]),
    ]
    table = group_standings(RaceGroup("3000m", "M", "18-34"), plan_group(5, LONG), races, RESULTS)
    assert [(e.place, e.bib) for e in table.entries] == [(1, 1), (2, 3), (2, 5), (2, 7), (5, 9)]


def test_the_engine_reads_line_fields_where_the_named_tuple_has_them() -> None:
    from copa_ranking.engine import standings

    fields = StandingLine._fields
    assert fields[standings._BIB] == "bib"
    assert fields[standings._STATUS] == "status"
    assert fields[standings._GUN] == "gun_time_us"
    assert fields[standings._NET] == "net_time_us"
    # an entry is its place, then its line's fields in their order
    assert StandingEntry._fields == ("place", *fields)


def test_a_gender_table_places_the_lines_of_its_categories_anew() -> None:
    men_18 = group_standings(
        RaceGroup("3000m", "M", "18-34"),
        plan_group(3, LONG),
        [
            race("a1", [Performance.finish(1, t("9:30")), Performance.finish(2, t("9:10"))]),
            race("a2", [Performance.finish(3, t("9:20"))]),
        ],
        RESULTS,
    )
    men_35 = group_standings(
        RaceGroup("3000m", "M", "35-44"),
        plan_group(2, LONG),
        [race("b1", [Performance.finish(4, t("9:15")), Performance.ruled(Ruling(5, "DNF"))])],
        RESULTS,
    )
    overall = gender_standings("3000m", "M", [men_18, men_35], RESULTS)
    assert [(e.place, e.bib) for e in overall.entries] == [
        (1, 2),
        (2, 4),
        (3, 3),
        (4, 1),
        (None, 5),
    ]
    # the same line objects, not copies: only their order and places are the gender table's
    assert {id(line) for line in overall.lines} == {
        id(line) for table in (men_18, men_35) for line in table.lines
    }
    assert [e.place for e in men_18.entries] == [1, 2, 3]  # the category's places stay
    assert overall.entry_of(4) == StandingEntry(2, 4, "35-44", "OK", *men_35.lines[0][3:])
    assert overall.entrants_count == 5


def test_standings_from_stored_entries_are_the_same_table() -> None:
    table = group_standings(
        RaceGroup("3000m", "F", "18-34"),
        plan_group(3, LONG),
        [
            race(
                "c1",
                [Performance.finish(7, t("11:00")), Performance.ruled(Ruling(8, "DQ", "7.12"))],
            ),
            race("c2", [Performance.finish(9, t("10:40"))]),
        ],
        RESULTS,
    )
    again = Standings.of_entries(
        table.distance, table.gender, table.category, table.status, table.entries
    )
    assert again == table
    assert [type(line) for line in again.lines] == [StandingLine] * 3
    with pytest.raises(EngineError, match="3 standings lines with 2 places"):
        dataclasses.replace(table, places=table.places[:2])
