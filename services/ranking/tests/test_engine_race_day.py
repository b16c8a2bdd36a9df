"""A whole 100 m group through the engine: entries to official standings (RULES §5, §6)."""

from __future__ import annotations

import datetime as dt

from copa_contracts.edition import load_edition
from copa_ranking.engine import (
    AdvancementRule,
    ChipOwner,
    Entrant,
    FinishRule,
    Passing,
    PhotoFinish,
    PhotoPlacing,
    RaceGroup,
    RaceResult,
    RaceWindow,
    Ruling,
    assign_crossings,
    build_schedule,
    collapse_reads,
    confirm,
    detect_finishes,
    draw_final,
    draw_group,
    group_standings,
    instant_us,
    parse_duration_us,
    place_race,
    resolve_performances,
    select_qualifiers,
)

EDITION = load_edition()
SPRINT = EDITION.distance("100m")
RESULTS = EDITION.results


def t(text: str) -> int:
    return parse_duration_us(text)


def gun_of(local: dt.datetime) -> int:
    return instant_us(EDITION.to_utc(local))


def test_a_100m_group_of_fourteen_goes_from_entries_and_reads_to_official_standings() -> None:
    group = RaceGroup("100m", "M", "18-34")
    entrants = [Entrant(bib) for bib in range(101, 115)]  # 14 confirmed starters
    drawn = draw_group(group, entrants, SPRINT.division, "2024/100m/M/18-34", EDITION.lanes)
    assert drawn.format.race_sizes == (7, 7)
    schedule = build_schedule({group: drawn.format}, EDITION)
    assert schedule.fits

    # Bib n runs 10.00 + (n - 100) / 10 s (bib 101 fastest), bib 114 does not start.
    def run_time(bib: int) -> int:
        return t("10") + (bib - 100) * 100_000

    chip_of = {bib: f"chip-{bib}" for bib in range(101, 115)}
    windows: list[RaceWindow] = []
    reads: list[Passing] = []
    heats = [r for r in schedule.races if r.round == "heat"]
    for scheduled, race in zip(heats, drawn.races, strict=True):
        gun = gun_of(scheduled.starts_at)
        chips = {chip_of[bib]: ChipOwner(bib) for bib in race.bibs}
        windows.append(RaceWindow(f"heat-{race.heat_number}", gun, gun + t("5:00"), chips))
        for bib in race.bibs:
            if bib != 114:
                finish = gun + run_time(bib)
                # Three reads of one crossing: one crossing.
                reads += [
                    Passing(chip_of[bib], finish + i * 50_000, device_sequence=i) for i in range(3)
                ]
    reads.append(Passing("stray-chip", windows[0].opens_at_us + t("30")))

    crossings = collapse_reads(reads, RESULTS)
    sort = assign_crossings(crossings, windows, known_chips=set(chip_of.values()))
    assert [e.kind for e in sort.exceptions] == ["unknown_chip"]

    round_one: list[RaceResult] = []
    for window, race in zip(windows, drawn.races, strict=True):
        detection = detect_finishes(
            window, window.opens_at_us, sort.by_race[window.race_id], FinishRule.of(SPRINT)
        )
        rulings = [Ruling(114, "DNS")] if 114 in race.bibs else []
        resolution = resolve_performances(
            window.race_id, race.bibs, chip=detection.finishes, rulings=rulings, race_over=True
        )
        assert resolution.exceptions == ()
        round_one.append(confirm(place_race(window.race_id, resolution.performances, RESULTS)))

    advancement = select_qualifiers(
        round_one, AdvancementRule.copa(SPRINT.division, EDITION.lanes), RESULTS, "q-seed"
    )
    assert sorted(advancement.bibs) == list(range(101, 109))
    final_list = draw_final(advancement, SPRINT.division, RESULTS, "final-seed", EDITION.lanes)
    lanes = {p.bib: p.lane for p in final_list.start_list}
    assert {lanes[b] for b in (101, 102, 103, 104)} == {3, 4, 5, 6}

    # The final: the photo finish separates 105 and 106, who share an official 10.51.
    photo = PhotoFinish(
        tuple(
            PhotoPlacing(bib, place, time)
            for place, (bib, time) in enumerate(
                [(108, t("10.40")), (101, t("10.45")), (106, t("10.502")), (105, t("10.502"))],
                start=1,
            )
        )
        + tuple(
            PhotoPlacing(bib, 4 + i, t("10.60") + i * 10_000)
            for i, bib in enumerate((102, 103, 104, 107), start=1)
        ),
        "final.lif",
    )
    resolution = resolve_performances("final", final_list.bibs, photo=photo, race_over=True)
    final = confirm(place_race("final", resolution.performances, RESULTS))
    assert [(line.bib, line.place) for line in final.lines[:4]] == [
        (108, 1),
        (101, 2),
        (106, 3),
        (105, 4),
    ]
    assert final.line_of(106).official_time_us == final.line_of(105).official_time_us == t("10.51")

    standings = group_standings(group, drawn.format, round_one, RESULTS, final)
    assert standings.status == "official"
    assert [e.bib for e in standings.winners(RESULTS)] == [108, 101, 106]
    assert [e.place for e in standings.entries] == [*range(1, 14), None]
    assert standings.entries[8].bib == 109  # the ninth fastest in round 1 is ninth overall
    assert standings.entries[-1].status_text == "DNS"
