"""The medley relay (RULES §8): races of at most 8 teams, one round, the last leg's finish."""

from __future__ import annotations

import datetime as dt

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    Entrant,
    ManualTime,
    Passing,
    RaceWindow,
    Ruling,
    collapse_reads,
    detect_finishes,
    draw_relay,
    group_standings,
    instant_us,
    parse_duration_us,
    place_race,
    relay_chips,
    relay_finish_rule,
    resolve_performances,
    team_ruling,
)

EDITION = load_edition()
RELAY = EDITION.relay
RESULTS = EDITION.results
GUN = instant_us(dt.datetime(2024, 3, 17, 10, 0, tzinfo=dt.UTC))


def t(text: str) -> int:
    return parse_duration_us(text)


def test_twenty_eight_teams_run_four_races_of_seven_in_one_round() -> None:
    drawn = draw_relay([Entrant(bib) for bib in range(5001, 5029)], RELAY, "relay-seed")
    assert drawn.format.first_round == "timed_final"
    assert drawn.format.race_sizes == (7, 7, 7, 7)
    assert all(len(race.bibs) <= RELAY.race_max for race in drawn.races)
    assert all(p.lane is None for race in drawn.races for p in race.start_list)


def test_the_team_result_is_the_gun_time_of_its_last_leg_at_the_finish_line() -> None:
    chips = relay_chips({5001: ["a1", "a2", "a3", "a4"], 5002: ["b1", "b2", "b3", "b4"]}, RELAY)
    reads = [
        # Leg 1 (800 m from the 100 m mark) crosses the finish line twice, leg 2 once.
        Passing("a1", GUN + t("0:45")),
        Passing("a1", GUN + t("1:50")),
        Passing("a2", GUN + t("2:55")),
        # The last-leg runner walks over the line to the exchange zone before the race...
        Passing("a4", GUN + t("0:20")),
        # ... and finishes.
        Passing("a4", GUN + t("4:12.345")),
        Passing("b4", GUN + t("4:30.001")),
    ]
    window = RaceWindow("relay-1", GUN, GUN + t("10:00"), chips)
    detection = detect_finishes(
        window, GUN, collapse_reads(reads, RESULTS), relay_finish_rule(RELAY)
    )
    assert {bib: f.gun_time_us for bib, f in detection.finishes.items()} == {
        5001: t("4:12.345"),
        5002: t("4:30.001"),
    }
    assert detection.exceptions == ()  # other legs' crossings are splits, not doubts
    legs = {trace.owner.leg for trace in detection.traces if trace.owner.bib == 5001}
    assert legs == {1, 2, 4}


def test_relay_places_come_from_times_across_races() -> None:
    drawn = draw_relay([Entrant(bib) for bib in range(5001, 5011)], RELAY, "s")
    times = {bib: t("4:00") + (5011 - bib) * 1_000_000 for bib in range(5001, 5011)}
    results = []
    for race in drawn.races:
        race_id = f"relay-{race.heat_number}"
        manual = [ManualTime(bib, times[bib], reason="hand timing") for bib in race.bibs]
        resolution = resolve_performances(race_id, race.bibs, manual_times=manual)
        results.append(place_race(race_id, resolution.performances, RESULTS))
    standings = group_standings(drawn.group, drawn.format, results, RESULTS)
    assert [e.bib for e in standings.entries] == list(range(5010, 5000, -1))
    assert standings.gender == "X"
    assert standings.category == RELAY.category


def test_a_breach_by_any_one_member_disqualifies_the_team() -> None:
    ruling = team_ruling(5001, [Ruling(5001, "DQ", "TR24.7", "passed outside the zone")])
    assert ruling is not None
    assert (ruling.bib, ruling.status, ruling.rule) == (5001, "DQ", "TR24.7")
    assert team_ruling(5001, [Ruling(5001, "DNF")]) is None
